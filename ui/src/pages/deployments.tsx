// Delivery: collections with each channel's current deployment and rollout, and a channel's page
// with its history (who, when, why, from → to) and the models of its deployments.
import { useState } from 'preact/hooks';
import { channelAction, channelHistory, getDeployment, listCollections, type Channel, type Deployment } from '../api';
import { href, type Route } from '../route';
import { act, Empty, formatBytes, formatTime, Loaded, useLoad } from '../ui';

function Rollout({ percent }: { percent: number }) {
  return (
    <span class="rollout" title={`${percent}% of devices`}>
      <span class="rollout-bar">
        <span style={{ width: `${Math.max(0, Math.min(100, percent))}%` }} />
      </span>
      {percent}%
    </span>
  );
}

export function CollectionsPage(_: { route: Route }) {
  const [load, reload] = useLoad((s) => listCollections(s), []);
  return (
    <section class="page">
      <div class="page-head">
        <h1>Deployments</h1>
      </div>
      <Loaded load={load} what="collections" retry={reload}>
        {(cols) =>
          !cols.length ? (
            <Empty title="No collections yet">
              Create one with <code>ringo collections create APP --model NAME</code>, then{' '}
              <code>ringo deployments create</code> and <code>ringo channels promote</code>.
            </Empty>
          ) : (
            cols.map((c) => (
              <div class="panel" data-collection={c.name}>
                <h2>
                  {c.name} <span class="hint">· created {formatTime(c.creation_time)}</span>
                </h2>
                <div class="chips">
                  {(c.models ?? []).map((m) => (
                    <a class="chip" href={href(['models', m])}>
                      {m}
                    </a>
                  ))}
                </div>
                {!c.channels?.length ? (
                  <p class="hint">No channel yet: promote a deployment to staging or release.</p>
                ) : (
                  <table class="grid channels">
                    <thead>
                      <tr>
                        <th>Channel</th>
                        <th>Current deployment</th>
                        <th>Rollout</th>
                        <th>Others on</th>
                        <th>Updated</th>
                      </tr>
                    </thead>
                    <tbody>
                      {c.channels.map((ch) => (
                        <tr data-channel={ch.name}>
                          <td>
                            <a href={href(['deployments', c.name, ch.name])}>{ch.name}</a>
                          </td>
                          <td>
                            <DeploymentName id={ch.deployment_id} label={ch.deployment_label} />
                          </td>
                          <td>
                            <Rollout percent={ch.rollout} />
                          </td>
                          <td>
                            {ch.rollout < 100 && ch.previous_deployment_id ? (
                              <DeploymentName id={ch.previous_deployment_id} label={ch.previous_deployment_label} />
                            ) : (
                              <span class="hint">—</span>
                            )}
                          </td>
                          <td>{formatTime(ch.updated_time)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                )}
              </div>
            ))
          )
        }
      </Loaded>
    </section>
  );
}

/** What a person still does by hand: promote, set the rollout, roll back (each with a reason). */
function ChannelActions(p: { collection: string; channel: string; rollout: number; canRollBack: boolean; onChange: () => void }) {
  const [deployment, setDeployment] = useState('');
  const [percent, setPercent] = useState(String(p.rollout));
  const [reason, setReason] = useState('');
  const why = () => reason.trim() || 'from the web UI';
  const input = (set: (v: string) => void) => (e: Event) => set((e.target as HTMLInputElement).value);
  return (
    <form class="actions" data-testid="channel-actions" onSubmit={(e) => e.preventDefault()}>
      <input aria-label="Reason" placeholder="reason (kept in the history)" value={reason} onInput={input(setReason)} />
      <input aria-label="Deployment to promote" placeholder="dep-…" value={deployment} onInput={input(setDeployment)} />
      <button type="button" disabled={!deployment.trim()}
        onClick={() => act(() => channelAction('promote', { collection: p.collection, channel: p.channel,
          deployment_id: deployment.trim(), rollout: Number(percent) || 100, reason: why() }), p.onChange)}>
        Promote
      </button>
      <input aria-label="Rollout percent" type="number" min={1} max={100} value={percent} onInput={input(setPercent)} />
      <button type="button"
        onClick={() => act(() => channelAction('rollout', { collection: p.collection, channel: p.channel,
          rollout: Number(percent), reason: why() }), p.onChange)}>
        Set rollout %
      </button>
      <button type="button" disabled={!p.canRollBack}
        onClick={() => act(() => channelAction('rollback', { collection: p.collection, channel: p.channel, reason: why() }), p.onChange)}>
        Roll back
      </button>
    </form>
  );
}

export function ChannelPage({ collection, channel }: { route: Route; collection: string; channel: string }) {
  const [load, reload] = useLoad(async (s) => {
    const [cols, history] = await Promise.all([listCollections(s), channelHistory(collection, channel, s)]);
    const ch = cols.find((c) => c.name === collection)?.channels?.find((x) => x.name === channel);
    const ids = [ch?.deployment_id, ch && ch.rollout < 100 ? ch.previous_deployment_id : undefined].filter(Boolean) as string[];
    const deployments = await Promise.all(ids.map((id) => getDeployment(id, s)));
    return { ch, history, deployments };
  }, [collection, channel]);
  return (
    <section class="page">
      <div class="page-head">
        <div>
          <div class="crumbs">
            <a href={href(['deployments'])}>Deployments</a> / {collection} /
          </div>
          <h1>{channel}</h1>
        </div>
      </div>
      <Loaded load={load} what="channel" retry={reload}>
        {({ ch, history, deployments }) => (
          <>
            {ch && (
              <dl class="facts" data-testid="channel-facts">
                <dt>Current deployment</dt>
                <dd>
                  <DeploymentName id={ch.deployment_id} label={ch.deployment_label} />
                </dd>
                <dt>Rollout</dt>
                <dd>
                  <Rollout percent={ch.rollout} />
                  {ch.rollout < 100 && ch.previous_deployment_id && (
                    <span class="hint">
                      {' '}
                      · the other {100 - ch.rollout}% stay on{' '}
                      <DeploymentName id={ch.previous_deployment_id} label={ch.previous_deployment_label} />
                    </span>
                  )}
                </dd>
                <dt>Updated</dt>
                <dd>{formatTime(ch.updated_time)}</dd>
              </dl>
            )}
            {ch && (
              <ChannelActions collection={collection} channel={channel} rollout={ch.rollout}
                canRollBack={!!ch.previous_deployment_id} onChange={reload} />
            )}
            {deployments.map((d, i) => (
              <DeploymentPanel deployment={d} role={i === 0 ? 'current' : 'previous'} channel={ch} />
            ))}
            <div class="panel">
              <h2>History</h2>
              {!history.length ? (
                <Empty title="No history yet" />
              ) : (
                <table class="grid history" data-testid="channel-history">
                  <thead>
                    <tr>
                      <th>When</th>
                      <th>Action</th>
                      <th>From → to</th>
                      <th>Rollout</th>
                      <th>Who</th>
                      <th>Why</th>
                    </tr>
                  </thead>
                  <tbody>
                    {[...history].reverse().map((h) => (
                      <tr>
                        <td>{formatTime(h.time)}</td>
                        <td>
                          <span class={`chip action-${h.action}`}>{h.action}</span>
                          {h.forced && <span class="chip forced">forced</span>}
                        </td>
                        <td class="mono">
                          {h.from || <span class="hint">(none)</span>} → {h.to || <span class="hint">(none)</span>}
                        </td>
                        <td>{h.rollout !== undefined ? `${h.rollout}%` : '—'}</td>
                        <td>{h.actor || '—'}</td>
                        <td>{h.reason || <span class="hint">—</span>}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </div>
          </>
        )}
      </Loaded>
    </section>
  );
}

function DeploymentPanel({ deployment: d, role, channel }: { deployment: Deployment; role: string; channel?: Channel }) {
  const share = channel ? (role === 'current' ? channel.rollout : 100 - channel.rollout) : undefined;
  return (
    <div class="panel" data-testid={`deployment-${role}`}>
      <h2>
        {role === 'current' ? 'Current' : 'Previous'} deployment <span class="mono">{d.id}</span>
        {share !== undefined && <span class="hint"> · {share}% of devices</span>}
      </h2>
      <p class="hint">Created {formatTime(d.creation_time)}</p>
      <table class="grid">
        <thead>
          <tr>
            <th>Model</th>
            <th>Version</th>
            <th>Format</th>
            <th>Size</th>
            <th title="SHA-256 of the file devices download (for an .mlpackage, its tar)">sha256</th>
            <th>Telemetry</th>
          </tr>
        </thead>
        <tbody>
          {(d.models ?? []).map((m) => (
            <tr data-model={m.name}>
              <td>
                <a href={href(['models', m.name])}>{m.name}</a>
              </td>
              <td>
                <a href={href(['models', m.name], { version: m.version })}>v{m.version}</a>
              </td>
              <td>{m.format ?? '—'}</td>
              <td>{formatBytes(m.size)}</td>
              <td class="mono" title={m.sha256}>
                {m.sha256.slice(0, 16)}…
              </td>
              <td>
                <a href={href(['telemetry'], { model: m.name, version: m.version })}>charts</a>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A deployment by what it holds ("DigitClassifier v2"), its id beside it for reference. */
function DeploymentName({ id, label }: { id: string; label?: string }) {
  if (!label) return <span class="mono">{id}</span>;
  return (
    <span data-deployment={id}>
      {label} <span class="mono hint">{id}</span>
    </span>
  );
}
