// Entry point: the page frame and the hash router.
import { render } from 'preact';
import { useEffect } from 'preact/hooks';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { href, useRoute } from './route';
import { Empty } from './ui';
import { ExperimentsPage } from './pages/experiments';
import { RunsPage } from './pages/runs';
import { RunPage } from './pages/run';
import { ArtifactsPage } from './pages/artifacts';
import { ComparePage } from './pages/compare';
import { ChartsPage } from './pages/charts';
import { ModelPage, ModelsPage } from './pages/registry';
import { ChannelPage, CollectionsPage } from './pages/deployments';
import { LoggedModelPage } from './pages/logged_model';
import { TelemetryPage } from './pages/telemetry';
import { AutomationPage } from './pages/automation';
import { AuditPage } from './pages/audit';

/** What a route's page shows, for the tab's title. */
function pageName(path: string[]): string {
  const [a, b, c] = path;
  if (!a || (a === 'experiments' && !b)) return 'Experiments';
  if (a === 'experiments') return `Experiment ${b}`;
  if (a === 'runs' && b && c === 'artifacts') return `Artifacts of run ${b.slice(0, 8)}`;
  if (a === 'runs' && b) return `Run ${b.slice(0, 8)}`;
  if (a === 'logged-models' && b) return `Logged model ${b.slice(0, 10)}`;
  if (a === 'models' && b) return `Model ${b}`;
  if (a === 'models') return 'Models';
  if (a === 'deployments' && b && c) return `${b} / ${c}`;
  if (a === 'deployments') return 'Deployments';
  if (a === 'telemetry') return 'Telemetry';
  if (a === 'automation') return 'Automation';
  if (a === 'audit') return 'Audit log';
  if (a === 'compare') return 'Compare runs';
  if (a === 'charts') return 'Charts';
  return 'Not found';
}

function Page() {
  const route = useRoute();
  const [a, b, c] = route.path;
  useEffect(() => {
    document.title = `${pageName(route.path)} · ringo`;
  }, [route.path.join('/')]);
  if (!a || (a === 'experiments' && !b)) return <ExperimentsPage route={route} />;
  if (a === 'experiments') return <RunsPage route={route} experimentId={b} />;
  if (a === 'runs' && b && c === 'artifacts')
    return <ArtifactsPage route={route} runId={b} path={route.path.slice(3).join('/')} />;
  if (a === 'runs' && b) return <RunPage route={route} runId={b} />;
  if (a === 'compare') return <ComparePage route={route} />;
  if (a === 'charts') return <ChartsPage route={route} />;
  if (a === 'logged-models' && b) return <LoggedModelPage route={route} modelId={b} />;
  if (a === 'models' && b) return <ModelPage route={route} name={b} />;
  if (a === 'models') return <ModelsPage route={route} />;
  if (a === 'deployments' && b && c) return <ChannelPage route={route} collection={b} channel={c} />;
  if (a === 'deployments') return <CollectionsPage route={route} />;
  if (a === 'telemetry') return <TelemetryPage route={route} />;
  if (a === 'automation') return <AutomationPage route={route} />;
  if (a === 'audit') return <AuditPage route={route} />;
  return (
    <Empty title="No such page">
      <a href={href(['experiments'])}>Go to the experiments</a>
    </Empty>
  );
}

function App() {
  return (
    <>
      <header class="top">
        <a class="brand" href="#/">
          ringo
        </a>
        <nav>
          <a href={href(['experiments'])}>Experiments</a>
          <a href={href(['models'])}>Models</a>
          <a href={href(['deployments'])}>Deployments</a>
          <a href={href(['automation'])}>Automation</a>
          <a href={href(['audit'])}>Audit</a>
        </nav>
      </header>
      <main>
        <Page />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
