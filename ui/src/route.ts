// Hash routing: every page is `#/<path>?<query>`, so a URL can be shared and the server only
// ever serves index.html at `/`.
import { useEffect, useState } from 'preact/hooks';

export interface Route {
  path: string[];
  query: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const h = hash.replace(/^#/, '') || '/';
  const [p, q = ''] = h.split('?', 2);
  return { path: p.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(q) };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseHash(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

/** A hash link: `href('experiments', id)` with optional query; empty values are dropped. */
export function href(path: (string | number)[], query?: Record<string, string | undefined>): string {
  const p = '#/' + path.map((s) => encodeURIComponent(String(s))).join('/');
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v) q.set(k, v);
  const qs = q.toString();
  return qs ? `${p}?${qs}` : p;
}

/** Changes the query of the current page without adding a history entry per keystroke. */
export function setQuery(route: Route, changes: Record<string, string | undefined>, push = true) {
  const q = new URLSearchParams(route.query);
  for (const [k, v] of Object.entries(changes)) {
    if (v) q.set(k, v);
    else q.delete(k);
  }
  const qs = q.toString();
  const url = '#/' + route.path.map(encodeURIComponent).join('/') + (qs ? '?' + qs : '');
  if (push) location.hash = url;
  else {
    history.replaceState(null, '', url);
    dispatchEvent(new HashChangeEvent('hashchange'));
  }
}
