/**
 * Counters and gauges of one gateway, exported as JSON (status endpoint) and in the
 * Prometheus text format (/metrics). Plain in-memory numbers: no I/O here.
 */
export type MetricName =
  | "attestation_requests_received"
  | "attestation_requests_rejected"
  | "attestation_requests_sent"
  | "evidence_verified"
  | "evidence_rejected"
  | "clock_rollback_vetoes"
  | "bootstrap_redials"
  | "task_rounds_requested"
  | "task_rounds_served"
  | "task_rounds_refused"
  | "rounds_selected"
  | "rounds_shed"
  | "rounds_carried_busy"
  | "rounds_decided"
  | "certificates_submitted"
  | "certificates_superseded"
  | "verdicts_observed"
  | "disputes_filed"
  | "vrf_fraud_detected"
  | "bridge_errors"
  | "p2p_messages_rejected"
  | "p2p_peers_denied"
  | "chain_rpc_errors"
  | "failed_verdict_actions";

export class Metrics {
  private readonly counters = new Map<MetricName, number>();
  private readonly gauges = new Map<string, number>();

  inc(name: MetricName, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by);
  }

  get(name: MetricName): number {
    return this.counters.get(name) ?? 0;
  }

  setGauge(name: string, value: number): void {
    this.gauges.set(name, value);
  }

  toJSON(): { counters: Record<string, number>; gauges: Record<string, number> } {
    return { counters: Object.fromEntries(this.counters), gauges: Object.fromEntries(this.gauges) };
  }

  toPrometheus(prefix = "trustmesh_"): string {
    const lines: string[] = [];
    for (const [name, value] of [...this.counters].sort()) {
      lines.push(`# TYPE ${prefix}${name}_total counter`, `${prefix}${name}_total ${value}`);
    }
    for (const [name, value] of [...this.gauges].sort()) {
      lines.push(`# TYPE ${prefix}${name} gauge`, `${prefix}${name} ${value}`);
    }
    return lines.join("\n") + "\n";
  }
}
