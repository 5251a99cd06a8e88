package io.tollgate.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.proxy.Flow;
import io.tollgate.proxy.Lane;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/** The order in which a short bucket's waiters get its tokens: lanes, then flows and jobs by cost. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class FairQueueTest {
  static final class W extends FairQueue.Waiter {
    final Flow flow;
    final int cost;

    W(Lane lane, String flow, String job, int cost) {
      this.flow = new Flow(lane, flow, job);
      this.cost = cost;
    }

    @Override int cost() { return cost; }
    @Override Flow flow() { return flow; }
  }

  static List<W> add(FairQueue<W> q, int n, Lane lane, String flow, String job, int cost) {
    List<W> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      W w = new W(lane, flow, job, cost);
      q.add(w);
      out.add(w);
    }
    return out;
  }

  /** Cost served per flow over the first {@code polls} turns. */
  static java.util.Map<String, Integer> served(FairQueue<W> q, int polls) {
    java.util.Map<String, Integer> cost = new java.util.TreeMap<>();
    for (int i = 0; i < polls; i++) {
      W w = q.poll(i);
      cost.merge(w.flow.flow() + (w.flow.lane() == Lane.BACKGROUND ? "/bg" : ""), w.cost, Integer::sum);
    }
    return cost;
  }

  @Test
  void a_flow_that_queues_ten_times_more_only_lengthens_its_own_queue() {
    FairQueue<W> q = new FairQueue<>(0.8, 5, 100);
    add(q, 100, Lane.INTERACTIVE, "A", "-", 1);
    add(q, 10, Lane.INTERACTIVE, "B", "-", 1);
    var first = served(q, 20);
    assertEquals(10, first.get("A"), "" + first);
    assertEquals(10, first.get("B"), "" + first);
    assertEquals(90, q.size());
  }

  @Test
  void shares_are_by_cost_not_by_request_count() {
    FairQueue<W> q = new FairQueue<>(0.8, 5, 100);
    add(q, 50, Lane.INTERACTIVE, "heavy", "-", 5);
    add(q, 200, Lane.INTERACTIVE, "light", "-", 1);
    var first = served(q, 60);
    // 60 turns: 10 heavy (50 units) and 50 light (50 units), give or take one quantum.
    assertTrue(Math.abs(first.get("heavy") - first.get("light")) <= 5, "" + first);
  }

  @Test
  void more_job_ids_never_raise_a_flow_share() {
    FairQueue<W> q = new FairQueue<>(0.8, 5, 100);
    for (int j = 0; j < 10; j++) add(q, 10, Lane.INTERACTIVE, "many-jobs", "job" + j, 1);
    add(q, 100, Lane.INTERACTIVE, "one-job", "-", 1);
    var first = served(q, 40);
    assertEquals(20, first.get("many-jobs"), "" + first);
    assertEquals(20, first.get("one-job"), "" + first);
  }

  @Test
  void interactive_goes_first_up_to_its_share_and_background_keeps_the_rest() {
    FairQueue<W> q = new FairQueue<>(0.8, 5, 100);
    add(q, 200, Lane.BACKGROUND, "job", "-", 1);
    add(q, 200, Lane.INTERACTIVE, "ui", "-", 1);
    var first = served(q, 100);
    // Both lanes flooded: interactive 80 %, background 20 %, within a few turns.
    assertTrue(Math.abs(first.get("ui") - 80) <= 3, "" + first);
    assertTrue(first.get("job/bg") >= 17, "" + first);
  }

  @Test
  void a_trickle_of_interactive_is_served_before_a_queued_background_flood() {
    FairQueue<W> q = new FairQueue<>(0.8, 5, 100);
    add(q, 100, Lane.BACKGROUND, "job", "-", 1);
    served(q, 30);
    List<W> ui = add(q, 3, Lane.INTERACTIVE, "ui", "-", 1);
    List<W> next = new ArrayList<>();
    for (int i = 0; i < 3; i++) next.add(q.poll(100 + i));
    assertEquals(ui, next);
  }

  @Test
  void with_only_background_waiting_background_gets_everything() {
    FairQueue<W> q = new FairQueue<>(0.8, 5, 100);
    add(q, 10, Lane.BACKGROUND, "job", "-", 1);
    assertEquals(10, served(q, 10).get("job/bg"));
    assertNull(q.poll(11));
  }

  @Test
  void flows_beyond_max_flows_share_one_turn_and_gone_waiters_are_skipped() {
    FairQueue<W> q = new FairQueue<>(0.8, 1, 2);
    add(q, 10, Lane.INTERACTIVE, "A", "-", 1);
    add(q, 10, Lane.INTERACTIVE, "B", "-", 1);
    // Ten more identities: together they are one more flow, not ten.
    for (int i = 0; i < 10; i++) add(q, 1, Lane.INTERACTIVE, "x" + i, "-", 1);
    var first = served(q, 9);
    int others = first.entrySet().stream().filter(e -> e.getKey().startsWith("x")).mapToInt(e -> e.getValue()).sum();
    assertEquals(3, first.get("A"), "" + first);
    assertEquals(3, others, "" + first);
    W gone = add(q, 1, Lane.INTERACTIVE, "C", "-", 1).get(0);
    q.remove(gone);
    int left = q.size();
    int polled = 0;
    while (q.poll(1000 + polled) != null) polled++;
    assertEquals(left, polled, "the removed waiter is never served");
  }

  @Test
  void a_costly_request_waits_for_its_rounds_without_starving_or_spinning() {
    FairQueue<W> q = new FairQueue<>(0.8, 1, 100);
    add(q, 3, Lane.INTERACTIVE, "batch", "-", 100);
    add(q, 1000, Lane.INTERACTIVE, "single", "-", 1);
    var first = served(q, 202);
    // By cost: two batches of 100 beside about 200 single requests.
    assertEquals(200, first.get("batch"), "" + first);
    assertTrue(Math.abs(first.get("single") - 200) <= 2, "" + first);
  }

  @Test
  void a_waiter_that_gives_up_after_it_was_taken_leaves_the_queue_as_it_is() {
    // A deadline timer can fire on another event loop just after the waiter was taken for its reservation.
    FairQueue<W> q = new FairQueue<>(0.8, 1, 100);
    add(q, 3, Lane.INTERACTIVE, "A", "-", 1);
    W taken = q.poll(0);
    q.remove(taken);
    q.remove(taken);
    assertEquals(2, q.size());
    assertTrue(q.poll(1) != null && q.poll(2) != null && q.poll(3) == null, "the other two are still served");
  }

  @Test
  void making_room_evicts_the_newest_waiter_of_the_heaviest_flow_only() {
    FairQueue<W> q = new FairQueue<>(0.8, 5, 100);
    List<W> heavy = add(q, 20, Lane.INTERACTIVE, "heavy", "-", 1);
    add(q, 2, Lane.INTERACTIVE, "light", "-", 1);
    assertEquals(heavy.get(19), q.newestOfLargestFlow(1));
    assertNull(q.newestOfLargestFlow(20), "a flow as heavy as the largest gets no one evicted for it");
  }
}
