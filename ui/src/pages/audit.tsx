// The audit log: every change made through the server — who, when, what, from where, and the
// answer — newest first, filtered by time, actor and route. Admins only (the server says so).
import { listAudit } from '../api';
import { setQuery, type Route } from '../route';
import { Empty, formatTime, Loaded, useLoad } from '../ui';

const RANGES: [string, number][] = [['1h', 1], ['24h', 24], ['7d', 24 * 7], ['30d', 24 * 30]];

export function AuditPage({ route }: { route: Route }) {
  const hours = Number(route.query.get('hours') ?? '24') || 24;
  const actor = route.query.get('actor') ?? '';
  const path = route.query.get('route') ?? '';
  const [load, retry] = useLoad((sig) => listAudit({ hours, actor, route: path }, sig), [hours, actor, path]);
  return (
    <section class="audit">
      <h1>Audit log</h1>
      <div class="toolbar">
        <span class="chips" role="group" aria-label="Time range">
          {RANGES.map(([label, h]) => (
            <button type="button" class={`chip${h === hours ? ' on' : ''}`} aria-pressed={h === hours}
              onClick={() => setQuery(route, { hours: String(h) }, false)}>
              {label}
            </button>
          ))}
        </span>
        <input type="search" placeholder="actor, e.g. token:ci" value={actor} aria-label="Actor"
          onChange={(e) => setQuery(route, { actor: (e.target as HTMLInputElement).value }, false)} />
        <input type="search" placeholder="route contains, e.g. channels" value={path} aria-label="Route"
          onChange={(e) => setQuery(route, { route: (e.target as HTMLInputElement).value }, false)} />
      </div>
      <Loaded load={load} what="the audit log" retry={retry}>
        {(entries) =>
          !entries.length ? (
            <Empty title="No change in this range" />
          ) : (
            <div class="scroll-x">
              <table class="grid audit-log">
                <thead>
                  <tr>
                    <th>When</th>
                    <th>Who</th>
                    <th>What</th>
                    <th>About</th>
                    <th>Answer</th>
                    <th>From</th>
                  </tr>
                </thead>
                <tbody>
                  {entries.map((e) => (
                    <tr data-route={e.route} data-status={e.status}>
                      <td>
                        {formatTime(e.time)}
                        {e.count > 1 && <span class="hint"> ×{e.count}</span>}
                      </td>
                      <td class="mono">{e.actor}</td>
                      <td class="mono">
                        {e.method} {e.path}
                      </td>
                      <td class="mono">{e.target}</td>
                      <td>{e.status >= 400 ? <strong>{e.status}</strong> : e.status}</td>
                      <td class="mono">{e.origin}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </Loaded>
    </section>
  );
}
