package io.tollgate.sim;

import java.util.Random;

/**
 * Everything {@link GraphSimulator#reset()} puts back: the data set, the throttling buckets and the random
 * source behind injected errors, hangs, jitter and batch order. Swapped whole behind a volatile reference, so a
 * reset from a test thread never races the event loop that mutates the current instance.
 */
final class Tenant {
  final Directory directory;
  final DriveItems drives;
  final Throttle throttle = new Throttle();
  final Random random;

  private Tenant(Directory directory, DriveItems drives, Random random) {
    this.directory = directory;
    this.drives = drives;
    this.random = random;
  }

  static Tenant initial(SimulatorOptions options) {
    return new Tenant(Directory.generate(options), DriveItems.generate(options), new Random(options.getSeed() * 31 + 7));
  }
}
