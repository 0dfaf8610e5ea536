// The report page the server writes (`.self-harness/report.html`: the pass-rate plot as
// inline SVG, the tables, weaknesses, validations) made fit for a webview: a content
// security policy that allows no scripts and no remote loads, and the page's own light
// colours kept whatever the editor's theme (the plot is drawn for a white page). Pure.

export const REPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:;";

const HEAD_EXTRA =
  `<meta http-equiv="Content-Security-Policy" content="${REPORT_CSP}">` +
  '<style>html,body{background:#fff;color:#222}a{color:#0b5cad}</style>';

export function reportWebviewHtml(page: string): string {
  const withoutScripts = page.replace(/<script\b[\s\S]*?<\/script>/gi, '');
  const head = /<head(\s[^>]*)?>/i.exec(withoutScripts);
  if (head) {
    const at = head.index + head[0].length;
    return withoutScripts.slice(0, at) + HEAD_EXTRA + withoutScripts.slice(at);
  }
  return `<!doctype html><html><head><meta charset="utf-8">${HEAD_EXTRA}</head><body>${withoutScripts}</body></html>`;
}
