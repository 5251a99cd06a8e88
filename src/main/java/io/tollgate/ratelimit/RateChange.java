package io.tollgate.ratelimit;

import io.tollgate.proxy.Charge;

/**
 * A bucket's learned rate moved: {@code from} and {@code to} in tokens per second, for all gateways sharing
 * the bucket, and why ({@code slow-start}, {@code increase}, {@code usage}, {@code throttled}).
 */
public record RateChange(Charge charge, double from, double to, String reason) {}
