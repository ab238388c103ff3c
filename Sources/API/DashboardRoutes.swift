import EventStore
import Foundation
import Hummingbird
import Identity

/// `GET /api/v1/dashboard`: the console's first page in one answer, computed here from the
/// `reporting` views (the console computes nothing): sessions by result over the last 24 hours
/// and 7 days, the jobs that need attention first (their last session failed or warned, or no
/// success for longer than twice their schedule's interval, or due and never run; failed ones
/// first), running sessions, data per day, and the projections' lag (`lagging` past 1,000
/// events or a minute). Every part is bounded (50 rows at most) and read by index, so it
/// stays fast with 100,000 sessions.
struct DashboardRoutes {
    let store: EventStore

    func add(to group: RouterGroup<APIContext>) {
        group.get("dashboard") { _, context in
            _ = try context.require(.readSessions)
            let result = try await store.pool.query(Self.sql)
            return JSONResponse.text(try result.decode(0, 0))
        }
    }

    static let sql = """
        WITH recent AS (
            SELECT coalesce(result, state, 'unknown') AS outcome, started_at FROM reporting.sessions
             WHERE coalesce(started_at, '-infinity'::timestamptz) > now() - interval '7 days'),
        last_success AS (
            SELECT j.job_id, j.job_name, j.last_result, j.last_started_at, j.last_finished_at, j.last_reason, j.next_run_at,
                   j.last_session_id,
                   (SELECT s.finished_at FROM reporting.sessions s WHERE s.job_id = j.job_id::text AND s.result = 'success'
                     ORDER BY s.started_at DESC LIMIT 1) AS last_success_at
              FROM reporting.jobs j WHERE j.enabled),
        attention AS (
            SELECT job_name, last_result, last_finished_at, last_success_at, last_reason, last_session_id,
                   CASE WHEN last_result IN ('failed', 'warning') THEN 'last session ' || last_result
                        WHEN last_started_at IS NULL AND next_run_at < now() - interval '1 hour' THEN 'due and never ran'
                        WHEN next_run_at IS NOT NULL AND last_started_at IS NOT NULL
                             AND coalesce(last_success_at, '-infinity') < now() - 2 * greatest(next_run_at - last_started_at, interval '1 hour')
                        THEN 'no success for longer than twice its schedule''s interval'
                   END AS why
              FROM last_success)
        SELECT json_build_object(
            'generated_at', now(),
            'last_24_hours', (SELECT coalesce(json_object_agg(outcome, n), '{}') FROM (
                SELECT outcome, count(*) AS n FROM recent WHERE started_at > now() - interval '24 hours' GROUP BY outcome) c),
            'last_7_days', (SELECT coalesce(json_object_agg(outcome, n), '{}') FROM (SELECT outcome, count(*) AS n FROM recent GROUP BY outcome) c),
            'attention', (SELECT coalesce(json_agg(row_to_json(a) ORDER BY a.failed DESC, a.last_finished_at DESC NULLS LAST), '[]')
                            FROM (SELECT *, coalesce(last_result = 'failed', false) AS failed FROM attention WHERE why IS NOT NULL
                                   ORDER BY coalesce(last_result = 'failed', false) DESC, last_finished_at DESC NULLS LAST LIMIT 50) a),
            'running', (SELECT coalesce(json_agg(row_to_json(r) ORDER BY r.started_at), '[]') FROM (
                SELECT session_id, job_name, trigger, started_at, vm_count, processed_bytes, transferred_bytes, rate_bytes_per_second
                  FROM reporting.sessions WHERE state = 'running' ORDER BY started_at LIMIT 50) r),
            'daily', (SELECT coalesce(json_agg(row_to_json(d) ORDER BY d.day), '[]') FROM (
                SELECT day, sessions, succeeded, warnings, failed, processed_bytes, transferred_bytes
                  FROM reporting.daily_statistics WHERE day > current_date - 14 ORDER BY day) d),
            'projections', (SELECT coalesce(json_agg(row_to_json(p) ORDER BY p.projection), '[]') FROM (
                SELECT projection, events_behind, seconds_behind, (events_behind > 1000 OR seconds_behind > 60) AS lagging
                  FROM reporting.projection_status) p)
        )::text
        """
}
