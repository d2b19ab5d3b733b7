// Automation: the schedules that run pipelines by themselves (next slot, latest firings with
// their reasons) and, per collection, the release policy's candidates (gates with their values,
// stage, the latest decision), with the actions a person still takes.
import { useState } from 'preact/hooks';
import {
  approveRelease, getReleasePolicy, getSchedule, listCollections, listSchedules, scheduleAction,
  type Candidate, type Schedule,
} from '../api';
import { href, type Route } from '../route';
import { act, Empty, formatNumber, formatTime, Loaded, useLoad } from '../ui';

function triggerText(s: Schedule): string {
  const t = s.trigger;
  const cmp = `${t.above ? '>' : '<'} ${t.threshold}`;
  if (t.type === 'cron') return `cron ${t.cron} (${t.time_zone})`;
  if (t.type === 'metric') return `metric ${t.metric} ${cmp}`;
  if (t.type === 'telemetry') return `${t.signal} of ${t.collection}/${t.channel} ${cmp}`;
  return `data ${t.path}`;
}

function ScheduleRow({ schedule, onChange }: { schedule: Schedule; onChange: () => void }) {
  const [open, setOpen] = useState(false);
  const [firings] = useLoad((sig) => (open ? getSchedule(schedule.name, sig) : Promise.resolve(null)), [open, schedule.name]);
  const s = schedule;
  return (
    <>
      <tr data-schedule={s.name}>
        <td>
          <button type="button" class="quiet" aria-expanded={open} onClick={() => setOpen(!open)}>
            {open ? '▾' : '▸'} {s.name}
          </button>
        </td>
        <td>{triggerText(s)}</td>
        <td>{s.paused ? 'paused' : s.running ? 'running' : s.next_slot ? formatTime(s.next_slot * 1000) : 'watching'}</td>
        <td class="mono">{s.project}</td>
        <td>
          <button type="button" onClick={() => act(() => scheduleAction(s.name, s.paused ? 'resume' : 'pause'), onChange)}>
            {s.paused ? 'Resume' : 'Pause'}
          </button>{' '}
          <button type="button" disabled={!!s.running} onClick={() => act(() => scheduleAction(s.name, 'run-now'), onChange)}>
            Run now
          </button>
        </td>
      </tr>
      {open && (
        <tr class="detail">
          <td colSpan={5}>
            <Loaded load={firings} what="firings">
              {(data) =>
                !data?.firings?.length ? (
                  <p class="hint">No firing yet.</p>
                ) : (
                  <ul class="firings">
                    {data.firings.map((f) => (
                      <li data-outcome={f.outcome}>
                        {formatTime(f.time)} · <strong>{f.outcome}</strong> · {f.reason}
                        {f.observed !== undefined && <> · observed {formatNumber(f.observed)}</>}
                        {f.window && <span class="hint"> · {f.window}</span>}
                      </li>
                    ))}
                  </ul>
                )
              }
            </Loaded>
          </td>
        </tr>
      )}
    </>
  );
}

function Candidates({ collection, candidates, onChange }: { collection: string; candidates: Candidate[]; onChange: () => void }) {
  if (!candidates.length) return <p class="hint">No candidate yet: the next registered version will be one.</p>;
  return (
    <table class="grid candidates">
      <thead>
        <tr>
          <th>Version</th>
          <th>Stage</th>
          <th>Gates</th>
          <th>Latest decision</th>
          <th />
        </tr>
      </thead>
      <tbody>
        {[...candidates].reverse().map((c) => (
          <tr data-version={c.version} data-stage={c.stage}>
            <td>
              <a href={href(['models', c.model])}>
                {c.model} v{c.version}
              </a>
            </td>
            <td>
              <span class={`status stage-${c.stage}`}>{c.stage}</span>
            </td>
            <td>
              {c.gates.map((g) => (
                <div class={g.passed ? 'gate pass' : 'gate fail'} title={g.detail}>
                  {g.passed ? '✓' : '✗'} {g.name}: {g.detail}
                </div>
              ))}
            </td>
            <td>
              {c.note} <span class="hint">· {formatTime(c.updated)}</span>
            </td>
            <td>
              {c.stage === 'staging' && (
                <button type="button" onClick={() => act(() => approveRelease(collection, c.version), onChange)}>
                  Approve for release
                </button>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function ReleasePanel({ collection }: { collection: string }) {
  const [load, reload] = useLoad((s) => getReleasePolicy(collection, s), [collection]);
  return (
    <div class="panel" data-release={collection}>
      <h2>
        {collection} <a class="hint" href={href(['deployments'])}>channels</a>
      </h2>
      <Loaded load={load} what="release policy" retry={reload}>
        {(data) =>
          !data ? (
            <p class="hint">
              No release policy: <code>ringo release set {collection} --file policy.json</code>
            </p>
          ) : (
            <>
              <p class="hint">
                {data.policy.model}: {data.policy.staging.channel} for {data.policy.staging.soak_seconds} s, then{' '}
                {data.policy.release.channel} in steps {data.policy.release.steps.join('% → ')}%, each held{' '}
                {data.policy.release.hold_seconds} s and {data.policy.release.min_samples} events
              </p>
              <Candidates collection={collection} candidates={data.candidates ?? []} onChange={reload} />
            </>
          )
        }
      </Loaded>
    </div>
  );
}

export function AutomationPage(_: { route: Route }) {
  const [schedules, reloadSchedules] = useLoad((s) => listSchedules(s), []);
  const [collections] = useLoad((s) => listCollections(s), []);
  return (
    <section class="page">
      <div class="page-head">
        <h1>Automation</h1>
      </div>
      <div class="panel">
        <h2>Schedules</h2>
        <Loaded load={schedules} what="schedules" retry={reloadSchedules}>
          {(list) =>
            !list.length ? (
              <Empty title="No schedule yet">
                Create one with <code>ringo schedules create NAME --project DIR --cron "0 3 * * *"</code> or a trigger
                (<code>--metric</code>, <code>--telemetry</code>, <code>--data</code>).
              </Empty>
            ) : (
              <table class="grid schedules">
                <thead>
                  <tr>
                    <th>Schedule</th>
                    <th>Fires on</th>
                    <th>Next</th>
                    <th>Project</th>
                    <th />
                  </tr>
                </thead>
                <tbody>
                  {list.map((s) => (
                    <ScheduleRow schedule={s} onChange={reloadSchedules} />
                  ))}
                </tbody>
              </table>
            )
          }
        </Loaded>
      </div>
      <Loaded load={collections} what="collections">
        {(cols) => (
          <>
            {cols.map((c) => (
              <ReleasePanel collection={c.name} />
            ))}
          </>
        )}
      </Loaded>
    </section>
  );
}
