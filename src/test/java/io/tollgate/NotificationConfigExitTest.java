package io.tollgate;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Notifications switched on without what they need stop start-up with exit 2, naming the keys, before anything listens. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class NotificationConfigExitTest {
  @TempDir Path dir;

  @Test
  void notifications_without_the_delta_feed_a_notification_url_or_a_client_state_exit_2_naming_each_key() throws Exception {
    String err = CommandRun.withConfig(dir, "freshness:\n  notifications:\n    enabled: true\n", 2);
    assertTrue(err.contains("config error: freshness.notifications.enabled: got true, expected false, or freshness.delta.enabled: true"), err);
    assertTrue(err.contains("config error: freshness.notifications.notificationUrl: got nothing"), err);
    assertTrue(err.contains("config error: freshness.notifications.clientStateEnv: got nothing, expected exactly one of clientStateEnv or clientStateFile"), err);
  }
}
