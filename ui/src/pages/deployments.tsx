// Delivery: collections with each channel's current deployment and rollout, and a channel's page
// with its targeting rules, the app contracts that gate it, its history (who, when, why, from →
// to, what a forced change overrode) and the models of its deployments.
import { useState } from 'preact/hooks';
import {
  channelAction, channelHistory, deploymentLabel, getDeployment, listCollections, listContracts,
  type Channel, type ChannelEvent, type Contract, type Deployment, type Rule,
} from '../api';
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
function ChannelActions(p: {
  collection: string; channel: string; rollout: number; canRollBack: boolean; onChange: () => void;
  known: Deployment[]; // offered by model and version as the deployment to promote
}) {
  const [deployment, setDeployment] = useState('');
  const [percent, setPercent] = useState(String(p.rollout));
  const [reason, setReason] = useState('');
  const why = () => reason.trim() || 'from the web UI';
  const input = (set: (v: string) => void) => (e: Event) => set((e.target as HTMLInputElement).value);
  return (
    <form class="actions" data-testid="channel-actions" onSubmit={(e) => e.preventDefault()}>
      <input aria-label="Reason" placeholder="reason (kept in the history)" value={reason} onInput={input(setReason)} />
      <input aria-label="Deployment to promote" placeholder="dep-…" list="known-deployments" value={deployment} onInput={input(setDeployment)} />
      <datalist id="known-deployments">
        {p.known.map((d) => (
          <option value={d.id}>{deploymentLabel(d)}</option>
        ))}
      </datalist>
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

/** Every deployment a channel page names, read once each (the newest 100 ids), by id. */
async function readDeployments(ch: Channel | undefined, history: ChannelEvent[], s: AbortSignal) {
  const ids = new Set<string>();
  const add = (id?: string) => id && ids.add(id);
  add(ch?.deployment_id);
  add(ch?.previous_deployment_id);
  (ch?.rules ?? []).forEach((r) => add(r.deployment_id));
  [...history].reverse().forEach((h) => (add(h.to), add(h.from), (h.rules ?? []).forEach((r) => add(r.deployment_id))));
  const read = await Promise.all(
    [...ids].slice(0, 100).map((id) => getDeployment(id, s).catch(() => undefined)),
  );
  return new Map(read.filter((d): d is Deployment => !!d).map((d) => [d.id, d]));
}

export function ChannelPage({ collection, channel }: { route: Route; collection: string; channel: string }) {
  const [load, reload] = useLoad(async (s) => {
    const [cols, history, contracts] = await Promise.all([
      listCollections(s), channelHistory(collection, channel, s), listContracts(collection, s),
    ]);
    const ch = cols.find((c) => c.name === collection)?.channels?.find((x) => x.name === channel);
    const known = await readDeployments(ch, history, s);
    const ids = [ch?.deployment_id, ch && ch.rollout < 100 ? ch.previous_deployment_id : undefined];
    const deployments = ids.map((id) => id && known.get(id)).filter((d): d is Deployment => !!d);
    const label = (id?: string) => (id && known.get(id) ? deploymentLabel(known.get(id)!) : undefined);
    return { ch, history, deployments, contracts, label, known: [...known.values()] };
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
        {({ ch, history, deployments, contracts, label, known }) => (
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
                canRollBack={!!ch.previous_deployment_id} onChange={reload} known={known} />
            )}
            {deployments.map((d, i) => (
              <DeploymentPanel deployment={d} role={i === 0 ? 'current' : 'previous'} channel={ch} />
            ))}
            <Rules rules={ch?.rules ?? []} label={label} />
            <Contracts contracts={contracts} collection={collection} />
            <History history={history} label={label} />
          </>
        )}
      </Loaded>
    </section>
  );
}

/** One rule's conditions in words: "device class iPhone15,2 · app 2.0–2.9". */
function conditions(r: Rule): string {
  const parts: string[] = [];
  const list = (what: string, v?: string[]) => v?.length && parts.push(`${what} ${v.join(', ')}`);
  list('device', r.device_ids);
  list('device class', r.device_class);
  list('OS', r.os);
  if (r.os_version) parts.push(`OS version ${r.os_version}`);
  if (r.app_version) parts.push(`app ${r.app_version}`);
  list('region', r.region);
  list('language', r.language);
  return parts.join(' · ') || 'every device';
}

function Rules({ rules, label }: { rules: Rule[]; label: (id?: string) => string | undefined }) {
  return (
    <div class="panel" data-testid="channel-rules">
      <h2>Targeting rules</h2>
      {!rules.length ? (
        <p class="hint">
          No rules: every device follows the rollout. Set them with <code>ringo channels rules</code>.
        </p>
      ) : (
        <>
          <p class="hint">In order: the first rule a device matches picks its deployment; the rest follow the rollout.</p>
          <table class="grid">
            <thead>
              <tr>
                <th>#</th>
                <th>Rule</th>
                <th>Devices with</th>
                <th>Get</th>
              </tr>
            </thead>
            <tbody>
              {rules.map((r, i) => (
                <tr data-rule={r.name ?? i}>
                  <td class="num">{i + 1}</td>
                  <td>{r.name || <span class="hint">—</span>}</td>
                  <td>{conditions(r)}</td>
                  <td>
                    <DeploymentName id={r.deployment_id} label={label(r.deployment_id)} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </div>
  );
}

function Contracts({ contracts, collection }: { contracts: Contract[]; collection: string }) {
  const features = (f?: { name: string }[]) => (f ?? []).map((x) => x.name).join(', ') || '—';
  return (
    <div class="panel" data-testid="app-contracts">
      <h2>App contracts</h2>
      {!contracts.length ? (
        <p class="hint">
          No contracts: promotions of {collection} are not checked against the apps' interfaces. Declare one with{' '}
          <code>ringo apps contract</code>.
        </p>
      ) : (
        <table class="grid">
          <thead>
            <tr>
              <th>App versions</th>
              <th>Model</th>
              <th>Inputs</th>
              <th>Outputs</th>
              <th>Declared</th>
            </tr>
          </thead>
          <tbody>
            {contracts.flatMap((c) =>
              Object.entries(c.models).map(([model, iface], i) => (
                <tr data-contract={c.app_versions}>
                  <td class="mono">{i === 0 ? c.app_versions : ''}</td>
                  <td>
                    <a href={href(['models', model])}>{model}</a>
                  </td>
                  <td class="mono">{features(iface.inputs)}</td>
                  <td class="mono">{features(iface.outputs)}</td>
                  <td>
                    {i === 0 ? formatTime(c.creation_time) : ''} {i === 0 && c.actor && <span class="hint">by {c.actor}</span>}
                  </td>
                </tr>
              )),
            )}
          </tbody>
        </table>
      )}
    </div>
  );
}

function History({ history, label }: { history: ChannelEvent[]; label: (id?: string) => string | undefined }) {
  const name = (id?: string) => (id ? <DeploymentName id={id} label={label(id)} /> : <span class="hint">(none)</span>);
  return (
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
                <td>
                  {h.action === 'rules' ? (
                    <span class="hint">{h.rules?.length ? `${h.rules.length} rule(s)` : 'rules cleared'}</span>
                  ) : (
                    <>
                      {name(h.from)} → {name(h.to)}
                    </>
                  )}
                </td>
                <td>{h.rollout !== undefined ? `${h.rollout}%` : '—'}</td>
                <td>{h.actor || '—'}</td>
                <td>
                  {h.reason || <span class="hint">—</span>}
                  {h.forced && !!h.overridden?.length && (
                    <div class="overridden" data-testid="overridden">
                      Overrode: {h.overridden.join('; ')}
                    </div>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function DeploymentPanel({ deployment: d, role, channel }: { deployment: Deployment; role: string; channel?: Channel }) {
  const share = channel ? (role === 'current' ? channel.rollout : 100 - channel.rollout) : undefined;
  return (
    <div class="panel" data-testid={`deployment-${role}`}>
      <h2>
        {role === 'current' ? 'Current' : 'Previous'} deployment{' '}
        <DeploymentName id={d.id} label={deploymentLabel(d) || undefined} />
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

/** A deployment by what it holds ("DigitClassifier v2"), its id in the tooltip and beside it. */
function DeploymentName({ id, label }: { id: string; label?: string }) {
  if (!label) return <span class="mono">{id}</span>;
  return (
    <span data-deployment={id} title={id}>
      {label} <span class="mono hint dep-id">{id}</span>
    </span>
  );
}
