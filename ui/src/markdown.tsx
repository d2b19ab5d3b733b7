// Descriptions as Markdown (the subset MLflow users write: headings, paragraphs, lists, code,
// emphasis, links), rendered to elements, never to HTML strings: what anyone with a write token
// typed can never become markup or script on the UI's origin.
import { h, type ComponentChildren } from 'preact';

type Block =
  | { kind: 'heading'; level: number; text: string }
  | { kind: 'para'; text: string }
  | { kind: 'list'; ordered: boolean; items: string[] }
  | { kind: 'code'; text: string };

/** Splits Markdown source into blocks. */
export function parseBlocks(source: string): Block[] {
  const lines = source.replace(/\r\n?/g, '\n').split('\n');
  const blocks: Block[] = [];
  let para: string[] = [];
  const flush = () => {
    if (para.length) blocks.push({ kind: 'para', text: para.join(' ') });
    para = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (/^\s*```/.test(line)) {
      flush();
      const code: string[] = [];
      for (i++; i < lines.length && !/^\s*```/.test(lines[i]); i++) code.push(lines[i]);
      blocks.push({ kind: 'code', text: code.join('\n') });
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    const item = /^\s*([-*+]|\d+[.)])\s+(.*)$/.exec(line);
    if (heading) {
      flush();
      blocks.push({ kind: 'heading', level: heading[1].length, text: heading[2].replace(/\s*#+\s*$/, '') });
    } else if (item) {
      flush();
      const ordered = /\d/.test(item[1]);
      const last = blocks[blocks.length - 1];
      if (last && last.kind === 'list' && last.ordered === ordered) last.items.push(item[2]);
      else blocks.push({ kind: 'list', ordered, items: [item[2]] });
    } else if (!line.trim()) {
      flush();
    } else {
      para.push(line.trim());
    }
  }
  flush();
  return blocks;
}

/** Only links that cannot run script: http(s), mailto, and paths on this site. */
export function safeHref(url: string): string | null {
  const u = url.trim();
  if (/^(https?:|mailto:)/i.test(u)) return u;
  if (/^[/#?]/.test(u) && !u.startsWith('//')) return u;
  return null;
}

const INLINE = /(`[^`]+`)|(\*\*[^*]+\*\*|__[^_]+__)|(\*[^*\s][^*]*\*|_[^_\s][^_]*_)|(\[[^\]]+\]\([^)\s]+\))/;

/** Inline code, bold, italic and links within one block's text. */
export function inline(text: string): ComponentChildren[] {
  const out: ComponentChildren[] = [];
  let rest = text;
  while (rest) {
    const m = INLINE.exec(rest);
    if (!m) {
      out.push(rest);
      break;
    }
    if (m.index > 0) out.push(rest.slice(0, m.index));
    const tok = m[0];
    if (m[1]) out.push(<code>{tok.slice(1, -1)}</code>);
    else if (m[2]) out.push(<strong>{inline(tok.slice(2, -2))}</strong>);
    else if (m[3]) out.push(<em>{inline(tok.slice(1, -1))}</em>);
    else {
      const link = /^\[([^\]]+)\]\(([^)\s]+)\)$/.exec(tok)!;
      const url = safeHref(link[2]);
      out.push(url ? <a href={url} rel="noopener noreferrer nofollow">{inline(link[1])}</a> : link[1]);
    }
    rest = rest.slice(m.index + tok.length);
  }
  return out;
}

export function Markdown({ source, class: cls }: { source: string; class?: string }) {
  const blocks = parseBlocks(source).map((b, i) => {
    switch (b.kind) {
      case 'heading': {
        // Headings inside a page's section start below the page's own h1/h2.
        return h(`h${Math.min(6, b.level + 2)}`, { key: i }, inline(b.text));
      }
      case 'list': {
        const items = b.items.map((t, j) => <li key={j}>{inline(t)}</li>);
        return b.ordered ? <ol key={i}>{items}</ol> : <ul key={i}>{items}</ul>;
      }
      case 'code':
        return (
          <pre key={i}>
            <code>{b.text}</code>
          </pre>
        );
      default:
        return <p key={i}>{inline(b.text)}</p>;
    }
  });
  return <div class={`markdown ${cls ?? ''}`.trim()}>{blocks}</div>;
}
