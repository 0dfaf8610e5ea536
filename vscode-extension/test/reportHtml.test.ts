import { describe, expect, it } from 'vitest';

import { REPORT_CSP, reportWebviewHtml } from '../src/reportHtml';

describe('reportWebviewHtml', () => {
  const page =
    '<!doctype html><html><head><meta charset="utf-8"><title>Self-Harness report</title></head>' +
    '<body><h1>Self-Harness report</h1><svg xmlns="http://www.w3.org/2000/svg"><polyline points="0,0 1,1"/></svg>' +
    '<script>alert(1)</script></body></html>';

  it('adds a policy that forbids scripts and remote loads, first thing in the head', () => {
    const html = reportWebviewHtml(page);
    expect(html).toContain(`<head><meta http-equiv="Content-Security-Policy" content="${REPORT_CSP}">`);
    expect(REPORT_CSP).toContain("default-src 'none'");
    expect(html).not.toContain('<script');
  });

  it('keeps the plot and the text', () => {
    const html = reportWebviewHtml(page);
    expect(html).toContain('<polyline points="0,0 1,1"/>');
    expect(html).toContain('<h1>Self-Harness report</h1>');
  });

  it('wraps a fragment in a page', () => {
    expect(reportWebviewHtml('<p>no ledger</p>')).toMatch(/^<!doctype html><html><head>.*<body><p>no ledger<\/p><\/body><\/html>$/);
  });
});
