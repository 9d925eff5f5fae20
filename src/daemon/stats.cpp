#include "galaxy/daemon/stats.hpp"

#include <fmt/format.h>

namespace galaxy::daemon {

std::string stats_line(const DaemonStats& s) {
  const auto& w = s.watcher;
  const auto& p = s.probes;
  std::string sink_line;
  if (s.durable) {
    const auto& d = *s.durable;
    sink_line =
        fmt::format("committed={} relayed={} queued={} dropped={} overflowed={}",
                    d.events_committed, d.events_relayed, d.queued, d.dropped_events, d.overflowed);
  } else if (s.stdout_sink) {
    sink_line =
        fmt::format("written={} dropped={}", s.stdout_sink->written, s.stdout_sink->dropped);
  }
  if (s.lease.enabled) {
    sink_line += fmt::format(" host={} role={} epoch={}", s.lease.host_id,
                             s.lease.active ? "active" : "standby", s.lease.epoch);
  }
  return fmt::format(
      "stats: watched={} docker_events={} bad_lines={} reconnects={} inspects={} "
      "inspect_errors={} probe_targets={} probes={} probe_rounds_missed={} lag_p99_ms={} {}",
      s.watched, w.events, w.bad_lines, w.reconnects, w.inspects, w.inspect_errors, p.targets,
      p.probes_started, p.rounds_missed, p.lag_quantile_ms(0.99), sink_line);
}

namespace {

double d(std::uint64_t v) {
  return static_cast<double>(v);
}

}  // namespace

void write_metrics(admin::Exposition& out, const DaemonStats& s, const BuildInfo& build) {
  out.gauge("galaxy_build_info", "Version and commit of the running runtime-manager.", 1,
            {{"version", build.version}, {"commit", build.commit}});

  if (s.lease.enabled) {
    // host_id is one value per process (like version): no cardinality to fear.
    out.gauge("galaxy_lease_active",
              "1 while this daemon holds its host's lease (active), 0 while it is a standby.",
              s.lease.active ? 1 : 0, {{"host_id", s.lease.host_id}});
    out.gauge("galaxy_lease_epoch", "The lease epoch held (0 while standby).",
              static_cast<double>(s.lease.epoch));
    out.counter("galaxy_lease_takeovers_total", "Times this daemon took its host's lease.",
                d(s.lease.takeovers));
    out.counter("galaxy_lease_step_downs_total",
                "Times this daemon lost its host's lease and stepped down to standby.",
                d(s.lease.step_downs));
  }

  for (std::size_t i = 0; i < contract::kEventTypeCount; ++i) {
    out.counter("galaxy_events_emitted_total",
                "Health events the sources emitted (handed to the sink), by event type.",
                d(s.emitted[i]), {{"type", std::string(contract::kEventTypeNames[i])}});
  }

  // Docker side.
  const auto& w = s.watcher;
  out.counter("galaxy_docker_events_total", "Docker events read from the events stream.",
              d(w.events));
  out.counter("galaxy_docker_event_lines_invalid_total",
              "Lines of the Docker events stream that could not be used.", d(w.bad_lines));
  out.counter("galaxy_docker_reconnects_total", "Times the Docker events stream was reconnected.",
              d(w.reconnects));
  out.counter("galaxy_resyncs_total",
              "Completed resyncs (list, then inspect of every listed container).", d(w.resyncs));
  out.counter("galaxy_state_reloads_total",
              "Times the sources' memory was reloaded from the state store after an overflow.",
              d(w.reloads));
  out.counter("galaxy_inspects_total", "Container inspects sent to Docker.", d(w.inspects));
  out.counter("galaxy_inspect_errors_total", "Container inspects that failed.",
              d(w.inspect_errors));
  out.gauge("galaxy_watched_containers", "Game-engine containers watched now.", d(s.watched));
  out.gauge("galaxy_synced", "1 once a resync from Docker has completed since start.",
            s.synced ? 1 : 0);

  // Prober.
  const auto& p = s.probes;
  out.gauge("galaxy_probe_targets", "Containers being probed now.", d(p.targets));
  out.counter("galaxy_probes_started_total", "Probes started.", d(p.probes_started));
  for (std::size_t i = 0; i < probe::kProbeOutcomes; ++i) {
    out.counter("galaxy_probes_total", "Finished probes, by outcome.", d(p.outcomes[i]),
                {{"result", std::string(to_string(static_cast<probe::ProbeOutcome>(i)))}});
  }
  std::array<std::uint64_t, probe::kProbeDurationBounds.size()> within{};
  std::uint64_t count = 0;
  for (std::size_t i = 0; i < p.duration_buckets.size(); ++i) {
    if (i < within.size()) {
      within[i] = p.duration_buckets[i];
    }
    count += p.duration_buckets[i];
  }
  out.histogram("galaxy_probe_duration_seconds",
                "Time from a probe's start to its response head or failure.",
                probe::kProbeDurationBounds, within, count, p.duration_sum_seconds);
  out.counter("galaxy_probe_rounds_missed_total",
              "Probe rounds due while the target's previous probe was still running.",
              d(p.rounds_missed));
  out.counter("galaxy_probe_rounds_skipped_total",
              "Probe rounds that passed while the loop was late.", d(p.rounds_skipped));

  // Sink.
  if (s.durable) {
    const auto& ds = *s.durable;
    out.counter("galaxy_events_committed_total", "Events committed to the PostgreSQL outbox.",
                d(ds.events_committed));
    out.counter("galaxy_events_relayed_total",
                "Events added to the Redis stream (replays not counted).", d(ds.events_relayed));
    out.counter("galaxy_relay_replays_total",
                "Outbox rows sent again and recognised by the stream as already added.",
                d(ds.replays_skipped));
    out.counter("galaxy_relay_wait_shortfalls_total",
                "Relayed batches fewer replicas acknowledged than --redis-wait-replicas asks "
                "(their rows stay in the outbox and are sent again).",
                d(ds.wait_shortfalls));
    out.counter("galaxy_seq_rewinds_total",
                "Times PostgreSQL's seq counter was behind the stream's mark and was raised past "
                "it (the database lost acknowledged commits: an asynchronous failover).",
                d(ds.seq_rewinds));
    out.counter("galaxy_commit_batches_total", "PostgreSQL transactions of the writer.",
                d(ds.batches));
    out.gauge("galaxy_queue_events", "Events held in memory, waiting for PostgreSQL.",
              d(ds.queued));
    out.gauge("galaxy_queue_capacity_events", "Capacity of the in-memory queue, in events.",
              d(s.queue_capacity));
    out.counter("galaxy_events_dropped_total",
                "Events dropped (queue overflow, invalid, or left at a stop deadline).",
                d(ds.dropped_events));
    out.counter("galaxy_overflow_episodes_total",
                "Times the queue overflowed (each ends in a resync).", d(ds.overflow_episodes));
    out.gauge("galaxy_queue_overflowed", "1 while the queue is dropping transitions.",
              ds.overflowed ? 1 : 0);
    out.counter("galaxy_sink_errors_total", "Failed calls of the durable sink, by thread.",
                d(ds.writer_errors), {{"thread", "writer"}});
    out.counter("galaxy_sink_errors_total", "Failed calls of the durable sink, by thread.",
                d(ds.relay_errors), {{"thread", "relay"}});
  } else if (s.stdout_sink) {
    out.counter("galaxy_events_written_total", "Events written by the stdout sink.",
                d(s.stdout_sink->written));
    out.counter("galaxy_events_dropped_total", "Events the stdout sink dropped.",
                d(s.stdout_sink->dropped));
  }

  out.gauge("galaxy_dependency_up", "1 when the dependency answered its last call.",
            s.docker_up ? 1 : 0, {{"dependency", "docker"}});
  if (s.durable) {
    out.gauge("galaxy_dependency_up", "1 when the dependency answered its last call.",
              s.durable->redis_up ? 1 : 0, {{"dependency", "redis"}});
    out.gauge("galaxy_dependency_up", "1 when the dependency answered its last call.",
              s.durable->postgres_up ? 1 : 0, {{"dependency", "postgres"}});
  }
}

}  // namespace galaxy::daemon
