// Driven by server/tests/vscode.rs: the Self-Harness extension in code-server, in Debian's
// chromium through playwright-core. Each step waits for what a person would see, records
// it and takes a screenshot; the Rust test reads the record (SH_OUT, JSON) and asserts on
// it. Three scenarios (SH_SCENARIO): `preview` opens the proposal's diff from the quick-fix
// menu and accepts it there; `quick-fix` picks "Apply proposal" in the menu directly;
// `palette` runs every command of the extension from the command palette, in the order a
// person would, answering its prompts; `restricted` opens the folder untrusted (Workspace
// Trust's restricted mode), where a job is refused and no key leaves, then trusts it.
// Environment: SH_URL (code-server with the project folder), SH_HARNESS (the harness
// folder), SH_FIX (the text the proposal adds), SH_PROPOSAL (its id), SH_CHROMIUM,
// SH_ARTIFACTS (screenshots), SH_OUT, and for the crash of the server SH_SERVER_BIN (its
// binary) and SH_ROOT_PID (code-server's process, of which it is a descendant).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const env = process.env;
const record = [];
let browser;
let page;

function finish(code) {
  writeFileSync(env.SH_OUT, JSON.stringify(record, null, 2));
  const close = browser ? browser.close().catch(() => undefined) : Promise.resolve();
  return close.then(() => process.exit(code));
}

/** Polls `probe` until it returns a truthy value; fails after `ms` naming `what`. */
async function until(what, ms, probe) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await probe();
      if (last) {
        return last;
      }
    } catch (error) {
      last = String(error);
    }
    if (Date.now() > deadline) {
      throw new Error(`waited ${ms / 1000} s for ${what}; last seen: ${JSON.stringify(last)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Runs one step: its detail goes in the record, a screenshot beside it; a failure ends the run. */
async function step(name, body) {
  const started = Date.now();
  let ok = true;
  let detail;
  try {
    detail = await body();
  } catch (error) {
    ok = false;
    detail = { error: String(error?.stack ?? error) };
  }
  const file = `${String(record.length + 1).padStart(2, '0')}-${name.replaceAll(' ', '-')}.png`;
  await page?.screenshot({ path: join(env.SH_ARTIFACTS, file) }).catch(() => undefined);
  record.push({ step: name, ok, detail, started, seconds: (Date.now() - started) / 1000 });
  if (!ok) {
    // The page as it was, to find out why.
    const html = await page?.content().catch(() => '');
    writeFileSync(join(env.SH_ARTIFACTS, 'failure.html'), html ?? '');
    await finish(1);
  }
  return detail;
}

/** Text as a person reads it: the editor renders spaces as no-break spaces. */
const words = (text) => (text ?? '').replace(/\u00a0/g, ' ').replace(/\s+/g, ' ').trim();
const text = async (selector) => words(await page.locator(selector).first().innerText({ timeout: 1000 }));
const status = () => text('[id$="selfHarness.status"]');
/** The label of the editor tab in front (its text is split into name and extension). */
const activeTab = async () => (await page.locator('.tab.active').first().getAttribute('aria-label', { timeout: 1000 })) ?? '';

try {
  browser = await chromium.launch({
    executablePath: env.SH_CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  page = await (await browser.newContext({ viewport: { width: 1366, height: 820 } })).newPage();
} catch (error) {
  record.push({ step: 'browser', ok: false, detail: { error: String(error) } });
  await finish(1);
}

// 1. The workbench loads and the extension is active (its status bar item shows).
await step('workbench', async () => {
  await until('code-server to answer', 60000, () => page.goto(env.SH_URL).then(() => true));
  await page.locator('.monaco-workbench').waitFor({ timeout: 60000 });
  await page.locator('[id$="selfHarness.status"]').waitFor({ timeout: 60000 });
  return { status: await status() };
});

if (env.SH_SCENARIO === 'palette') {
  await paletteScenario();
  await finish(0);
}
if (env.SH_SCENARIO === 'restricted') {
  await restrictedScenario();
  await finish(0);
}

/** Opens `file` with Go to File (absolute paths work, also outside the workspace). */
async function openFile(file) {
  const name = file.split('/').pop();
  await page.keyboard.press('Control+P');
  await page.locator('.quick-input-widget input').waitFor({ timeout: 10000 });
  await page.keyboard.type(file);
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: name }).first();
  await row.waitFor({ timeout: 10000 });
  // The list may still be settling under the first click: pick until the tab opens.
  const tab = await until(`the ${name} tab`, 20000, async () => {
    const active = (await page.locator('.tab.active').count()) ? await activeTab() : '';
    if (active.includes(name)) {
      return active;
    }
    if (await row.isVisible()) {
      await row.click();
    }
    await page.waitForTimeout(1000);
    return false;
  });
  await page.locator('.editor-instance .monaco-editor .view-lines').first().waitFor({ timeout: 10000 });
  return tab;
}

// 2. Open harness.toml (outside the project, in its own repository).
await step('harness file open', async () => {
  await page.locator('.monaco-workbench').click({ position: { x: 700, y: 400 } });
  return { tab: await openFile(join(env.SH_HARNESS, 'harness.toml')) };
});

let squiggleAt;

// 3. The weakness from the prepared store: a warning squiggle on the line of the system
//    prompt, whose hover says what it is.
await step('weakness squiggle', async () => {
  const squiggle = page.locator('.editor-instance .monaco-editor .squiggly-warning').first();
  await squiggle.waitFor({ state: 'attached', timeout: 30000 });
  const box = await until('the squiggle to be laid out', 10000, () => squiggle.boundingBox());
  const x = box.x + Math.min(box.width / 2, 60);
  const y = box.y + box.height / 2;
  await page.mouse.move(x, y);
  const hover = await until('the hover of the squiggle', 15000, async () => {
    const shown = await text('.monaco-hover:visible');
    return shown.includes('failed traces') && shown;
  });
  // The line: the number in the gutter level with the squiggle.
  const numbers = page.locator('.editor-instance .monaco-editor .margin-view-overlays .line-numbers');
  let line;
  for (const number of await numbers.all()) {
    const b = await number.boundingBox();
    if (b && y >= b.y && y < b.y + b.height) {
      line = Number(words(await number.innerText()));
    }
  }
  squiggleAt = { x, y };
  return { line, hover };
});

// 4. The quick-fix menu on that line lists the proposal's actions. First the light bulb, as
//    a person sees it: the editor's own request for the line's actions has then finished
//    and cannot replace the menu's while it is open.
await step('quick-fix menu', async () => {
  // The cursor goes to the squiggle's line; the mouse leaves, so that the hover goes.
  await page.mouse.click(squiggleAt.x, squiggleAt.y);
  await page.mouse.move(900, 700);
  await page.keyboard.press('Escape');
  await page.locator('.monaco-hover:visible').waitFor({ state: 'hidden', timeout: 10000 });
  await page.locator('.editor-instance .monaco-editor .codicon-gutter-lightbulb').first().waitFor({ timeout: 15000 });
  const rows = page.locator('.action-widget .monaco-list-row');
  await until('the quick-fix menu', 15000, async () => {
    if (await rows.first().isVisible()) {
      return true;
    }
    await page.keyboard.press('Control+.');
    await page.waitForTimeout(1000);
    return false;
  });
  const actions = await until('the proposal actions', 10000, async () => {
    const all = (await rows.allInnerTexts()).map(words).filter(Boolean);
    return all.some((a) => a.startsWith('Preview proposal')) && all;
  });
  return { actions };
});

const editorText = () => text('.editor-instance .monaco-editor .view-lines');

if (env.SH_SCENARIO === 'quick-fix') {
  // 5. "Apply proposal" in the menu: the server's edit lands in system.md (unsaved, as
  //    any code action leaves a file) and its validation starts.
  await step('applied from the quick fix', async () => {
    await page.locator('.action-widget .monaco-list-row', { hasText: `Apply proposal ${env.SH_PROPOSAL}` }).click();
    const tab = await openFile(join(env.SH_HARNESS, 'system.md'));
    const shown = await until('the proposal in system.md', 15000, async () => {
      const now = await editorText();
      return now.includes(words(env.SH_FIX)) && now;
    });
    const dirty = (await page.locator('.tab.active.dirty').count()) > 0;
    return { tab, dirty, text: shown };
  });
} else {
  // 5. "Preview proposal": the diff of the harness file and the proposed text.
  await step('diff preview', async () => {
    await page.locator('.action-widget .monaco-list-row', { hasText: `Preview proposal ${env.SH_PROPOSAL}` }).click();
    await page.locator('.editor-instance .monaco-diff-editor').waitFor({ timeout: 15000 });
    const modified = await until('the proposed text in the diff', 15000, async () => {
      const shown = await text('.monaco-diff-editor .editor.modified .view-lines');
      return shown.includes(words(env.SH_FIX)) && shown;
    });
    const original = await text('.monaco-diff-editor .editor.original .view-lines');
    return { title: await activeTab(), original, modified };
  });

  // 6. Accept in the editor title: the file gets the proposal, is saved, and opens.
  await step('applied', async () => {
    await page.locator('.editor-actions .action-label[aria-label^="Accept proposal"]').first().click();
    const tab = await until('system.md in front, saved, with the proposal', 15000, async () => {
      if (await page.locator('.editor-instance .monaco-diff-editor').count()) {
        return false;
      }
      const active = await activeTab();
      return active.includes('system.md') && (await editorText()).includes(words(env.SH_FIX)) && active;
    });
    const dirty = (await page.locator('.tab.active.dirty').count()) > 0;
    return { tab, dirty };
  });
}

// 7. Applying started the validation: its progress shows in the status bar.
const seen = new Set();
await step('validation progress', async () => {
  const shown = await until('validation progress in the status bar', 180000, async () => {
    const now = await status();
    seen.add(now);
    return /^validate: validate \d+\/\d+/.test(now) && now;
  });
  return { status: shown, seen: [...seen] };
});

// 8. It ends.
await step('validation ended', async () => {
  const shown = await until('the validation to end', 420000, async () => {
    const now = await status();
    seen.add(now);
    return /^validate (done|failed|cancelled)/.test(now) && now;
  });
  return { status: shown, seen: [...seen] };
});

// 9. The accepted edit gets its mark: a code lens on the edited line of system.md.
await step('accepted mark', async () => {
  const title = await until('the accepted code lens', 30000, async () => {
    const lenses = await page.locator('.editor-instance .monaco-editor .codelens-decoration').allInnerTexts();
    return lenses.map(words).find((l) => l.includes('accepted'));
  });
  return { title, tab: await activeTab() };
});

// 10. The side bar shows the proposal accepted.
await step('side bar', async () => {
  await page.locator('.activitybar .action-label[aria-label^="Self-Harness"]').first().click();
  const proposals = page.locator('.pane', { has: page.locator('.pane-header', { hasText: 'Proposals' }) });
  const proposal = await until('the proposal in the side bar, accepted', 20000, async () => {
    const rows = (await proposals.locator('.monaco-list-row').allInnerTexts()).map(words);
    return rows.find((r) => r.includes(env.SH_PROPOSAL) && r.includes('accepted'));
  });
  const weaknesses = page.locator('.pane', { has: page.locator('.pane-header', { hasText: 'Weaknesses' }) });
  const weakness = (await weaknesses.locator('.monaco-list-row').allInnerTexts()).map(words);
  return { proposal, weaknesses: weakness, status: await status() };
});

/** The parent of process `pid`, from /proc (0 when it is gone). */
function parentOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return 0;
  }
}

/** The language servers this code-server started: `SH_SERVER_BIN lsp`, below SH_ROOT_PID. */
function serverPids() {
  const root = Number(env.SH_ROOT_PID);
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => {
      let argv;
      try {
        argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      } catch {
        return false;
      }
      if (argv[0] !== env.SH_SERVER_BIN || argv[1] !== 'lsp') {
        return false;
      }
      for (let p = parentOf(pid); p > 1; p = parentOf(p)) {
        if (p === root) {
          return true;
        }
      }
      return false;
    });
}

/** The report's page once it shows in a webview, and its tab. */
async function reportShown() {
  const body = page.frameLocator('iframe.webview').frameLocator('iframe#active-frame').locator('body');
  const shown = await until('the report in a webview', 20000, async () => {
    const now = words(await body.innerText({ timeout: 1000 }));
    return now.includes('Self-Harness report') && now;
  });
  return { tab: await activeTab(), text: shown };
}

if (env.SH_SCENARIO !== 'quick-fix') {
  // 11. The report, from the title of the Runs view: the server's page in a webview.
  await step('report', async () => {
    await page.locator('.pane-header', { hasText: 'Runs' }).hover();
    await page.locator('.pane-header .action-label[aria-label^="Show the report"]').first().click();
    return reportShown();
  });

  // 12. The server dies: the extension says so and starts it again, which serves again.
  await step('server restarted', async () => {
    const before = serverPids();
    if (before.length !== 1) {
      throw new Error(`expected one language server below code-server, found ${JSON.stringify(before)}`);
    }
    process.kill(before[0], 'SIGKILL');
    const message = await until('the restart message', 20000, async () => {
      const toasts = words(await page.locator('.notifications-toasts').innerText({ timeout: 1000 }));
      return toasts.includes('stopped unexpectedly') && toasts;
    });
    const after = await until('a new language server', 20000, () => {
      const now = serverPids();
      return now.length === 1 && now[0] !== before[0] && now;
    });
    // The new server has run no job yet: once the extension has its state, the status bar
    // shows only the harness's pass rate.
    const shown = await until('the state of the new server', 20000, async () => {
      const now = await status();
      return !now.includes('validate') && now.includes('%') && now;
    });
    return { message, killed: before[0], restarted: after[0], status: shown };
  });
}

await finish(0);

/** Runs `title` ("Self-Harness: " left out) from the command palette. */
function palette(title) {
  return command(`Self-Harness: ${title}`);
}

/** Runs the command `full` (category and title) from the command palette. */
async function command(full) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ timeout: 10000 });
  await input.fill(`>${full}`);
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: full }).first();
  await row.waitFor({ timeout: 10000 });
  await row.click();
}

/** Answers the input box or quick pick the command opened: types `value` and presses Enter. */
async function answer(value) {
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ timeout: 10000 });
  await input.fill(value);
  await page.keyboard.press('Enter');
}

/** Picks the row of the open quick pick that shows `label`; returns every row's text. */
async function pick(label) {
  const rows = page.locator('.quick-input-list .monaco-list-row');
  const all = await until(`the pick list with ${label}`, 15000, async () => {
    const shown = (await rows.allInnerTexts()).map(words);
    return shown.some((r) => r.includes(label)) && shown;
  });
  await rows.filter({ hasText: label }).first().click();
  return all;
}

/** The status bar once it matches `pattern` (the jobs of this scenario end one by one). */
function statusMatching(what, ms, pattern) {
  return until(what, ms, async () => {
    const now = await status();
    return pattern.test(now) && now;
  });
}

/** The notifications shown now, once one includes `text`. */
function toast(text) {
  return until(`a notification saying "${text}"`, 20000, async () => {
    const shown = words(await page.locator('.notifications-toasts').innerText({ timeout: 1000 }));
    return shown.includes(text) && shown;
  });
}

/** The ids of the containers the language server `pid` started that still exist. */
function containersOf(pid) {
  const lines = execFileSync('docker', [
    'ps', '-a', '--filter', 'label=dev.self-harness.managed=true', '--format', '{{.ID}} {{.Label "dev.self-harness.owner"}}',
  ], { encoding: 'utf8' });
  return lines.split('\n').filter((l) => l.split('/')[1] === String(pid)).map((l) => l.split(' ')[0]);
}

/** A new language server, once the one of `before` has been replaced. */
function newServer(before) {
  return until('a new language server', 30000, () => {
    const now = serverPids();
    return now.length === 1 && !before.includes(now[0]) && now[0];
  });
}

/** The side bar's section `name`, opened (a click on the activity bar's icon of a side bar
 *  already shown would hide it). */
async function section(name) {
  const pane = page.locator('.pane', { has: page.locator('.pane-header', { hasText: name }) });
  if (!(await pane.first().isVisible())) {
    await page.locator('.activitybar .action-label[aria-label^="Self-Harness"]').first().click();
    await pane.first().waitFor({ timeout: 10000 });
  }
  if ((await pane.locator('.pane-header[aria-expanded="false"]').count()) > 0) {
    await pane.locator('.pane-header').click();
  }
  return pane;
}

async function paletteScenario() {
  // The second prepared proposal changes harness.toml and creates hooks/show-changes.sh:
  // its diff's Accept writes both files, saved, and validates the proposal.
  await step('accept two files', async () => {
    await palette('Preview proposal');
    await pick('interactive-program-2');
    await page.locator('.editor-instance .monaco-diff-editor').waitFor({ timeout: 15000 });
    const title = await activeTab();
    await page.locator('.editor-actions .action-label[aria-label^="Accept proposal"]').first().click();
    const files = await until('both files on disk', 15000, () => {
      let manifest;
      let script;
      try {
        manifest = readFileSync(join(env.SH_HARNESS, 'harness.toml'), 'utf8');
        script = readFileSync(join(env.SH_HARNESS, 'hooks/show-changes.sh'), 'utf8');
      } catch {
        return false;
      }
      return manifest.includes('[hooks.before_completion]') && script.length > 0 && ['harness.toml', 'hooks/show-changes.sh'];
    });
    const ended = await statusMatching('its validation to end', 300000, /^validate (done|failed|cancelled)/);
    return { title, files, status: ended, dirty: await page.locator('.tab.dirty').count() };
  });

  const key = 'sk-e2e-palette-secret';
  await step('set api key', async () => {
    const before = serverPids();
    await palette('Set API key');
    // The palette's box turns into the key's: masked as a person types.
    const input = page.locator('.quick-input-widget input');
    const type = await until('a password box', 10000, async () => (await input.getAttribute('type')) === 'password' && 'password');
    await answer(key);
    const shown = await toast('API key stored');
    // The server restarts with the key in its environment.
    return { toast: shown, inputType: type, restarted: await newServer(before) };
  });

  await step('evaluate', async () => {
    await palette('Evaluate the harness');
    await answer('1');
    return { status: await statusMatching('the evaluation to end', 300000, /^eval (done|failed|cancelled)/) };
  });

  await step('mine', async () => {
    await palette('Mine weaknesses');
    return { status: await statusMatching('mining to end', 300000, /^mine (done|failed|cancelled)/) };
  });

  await step('propose', async () => {
    await palette('Propose fixes for a weakness');
    const offered = await pick('Opens interactive programs');
    return { offered, status: await statusMatching('proposing to end', 120000, /^propose (done|failed|cancelled)/) };
  });

  await step('validate', async () => {
    await palette('Validate a proposal or the working edit');
    const offered = await pick(env.SH_PROPOSAL);
    return { offered, status: await statusMatching('the validation to end', 300000, /^validate (done|failed|cancelled)/) };
  });

  // Refresh is a button of each side bar section's title, not in the palette.
  await step('refresh', async () => {
    const pane = await section('Proposals');
    await pane.locator('.pane-header').hover();
    await pane.locator('.pane-header .action-label[aria-label^="Refresh"]').first().click();
    const proposal = await until('the proposal in the side bar, decided', 20000, async () => {
      const rows = (await pane.locator('.monaco-list-row').allInnerTexts()).map(words);
      return rows.find((r) => r.includes(env.SH_PROPOSAL) && r.includes('accepted'));
    });
    return { proposal };
  });

  await step('open evidence', async () => {
    const pane = await section('Weaknesses');
    const weakness = pane.locator('.monaco-list-row', { hasText: 'Opens interactive programs' }).first();
    await weakness.waitFor({ timeout: 15000 });
    if ((await weakness.getAttribute('aria-expanded')) !== 'true') {
      await weakness.click();
    }
    const evidence = pane.locator('.monaco-list-row[aria-level="2"]').first();
    await evidence.waitFor({ timeout: 10000 });
    const label = words(await evidence.innerText());
    await evidence.click();
    const tab = await until('the trace in an editor', 15000, async () => {
      const active = (await page.locator('.tab.active').count()) ? await activeTab() : '';
      return /\.jsonl?\b/.test(active) && active;
    });
    return { label, tab };
  });

  await step('preview and reject', async () => {
    await palette('Preview proposal');
    await pick(env.SH_PROPOSAL);
    await page.locator('.editor-instance .monaco-diff-editor').waitFor({ timeout: 15000 });
    const title = await activeTab();
    await palette('Reject proposal');
    await until('the diff to close', 15000, async () => (await page.locator('.editor-instance .monaco-diff-editor').count()) === 0);
    return { title, after: await activeTab().catch(() => '') };
  });

  await step('cancel', async () => {
    const server = serverPids()[0];
    await palette('Evaluate the harness');
    await answer('3');
    const running = await statusMatching('the evaluation to run', 60000, /^eval: /);
    await palette('Cancel a job');
    const offered = await pick('Evaluate the harness');
    const ended = await statusMatching('the evaluation to end', 60000, /^eval (done|failed|cancelled)/);
    const left = await until('its containers to go', 30000, () => containersOf(server).length === 0 || false).then(
      () => [],
      () => containersOf(server),
    );
    return { running, offered, status: ended, containers: left };
  });

  // First a loop stopped while its baseline runs; the next one resumes its ledger.
  await step('stop auto-apply', async () => {
    await palette('Auto-apply: start the loop');
    await answer('2');
    const running = await statusMatching('the loop to run', 60000, /^loop: /);
    await palette('Auto-apply: stop the loop');
    const said = await toast('the loop is stopping');
    const ended = await statusMatching('the loop to end', 120000, /^loop (done|failed|cancelled)/);
    return { running, toast: said, status: ended };
  });

  await step('auto-apply', async () => {
    const before = readFileSync(join(env.SH_HARNESS, 'system.md'), 'utf8');
    await palette('Auto-apply: start the loop');
    await answer('1');
    // The status shows the stopped loop until this one starts.
    await statusMatching('the loop to run', 60000, /^loop: /);
    const ended = await statusMatching('the loop to end', 420000, /^loop (done|failed|cancelled)/);
    // The loop installed the accepted edit (a remedy against vim, the model's or the
    // catalog's): the file on disk changed, and its mark shows.
    const system = readFileSync(join(env.SH_HARNESS, 'system.md'), 'utf8');
    const tab = await openFile(join(env.SH_HARNESS, 'system.md'));
    const mark = await until('the accepted code lens', 30000, async () => {
      const lenses = await page.locator('.editor-instance .monaco-editor .codelens-decoration').allInnerTexts();
      return lenses.map(words).find((l) => l.includes('accepted'));
    });
    return { status: ended, installed: system !== before && /never open an interactive editor/i.test(system), tab, mark };
  });

  await step('show output', async () => {
    await palette("Show the language server's log");
    // The Output panel with the extension's channel chosen, showing the protocol's
    // messages (the trace setting is "messages").
    const select = page.locator('.part.panel select.monaco-select-box').first();
    const channel = await until('the channel chosen', 15000, () =>
      select.evaluate((e) => e.options[e.selectedIndex]?.text ?? ''),
    );
    const log = page.locator('.part.panel .monaco-editor .view-lines').first();
    const shown = await until('the log in the panel', 15000, async () => {
      const now = words(await log.innerText({ timeout: 1000 }));
      return now.includes('[Trace - ') && now;
    });
    return { channel, log: shown.slice(-400) };
  });

  await step('show report', async () => {
    await palette('Show the report');
    return reportShown();
  });

  await step('restart server', async () => {
    const before = serverPids();
    await palette('Restart the language server');
    return { before, after: await newServer(before) };
  });

  await step('clear api key', async () => {
    const before = serverPids();
    await palette('Clear API key');
    return { toast: await toast('API key removed'), restarted: await newServer(before) };
  });
}

async function restrictedScenario() {
  await step('restricted mode', async () => {
    const bar = await until('Restricted Mode in the status bar', 30000, async () => {
      const shown = words(await page.locator('.part.statusbar').innerText({ timeout: 1000 }));
      return shown.includes('Restricted Mode') && shown;
    });
    return { statusbar: bar };
  });

  await step('set api key', async () => {
    const before = serverPids();
    await palette('Set API key');
    await answer('sk-e2e-restricted-secret');
    return { toast: await toast('API key stored'), restarted: await newServer(before) };
  });

  await step('evaluate refused', async () => {
    await palette('Evaluate the harness');
    await answer('1');
    // The job is refused at once: it ends failed, saying why, in the status bar.
    return { status: await statusMatching('the refusal', 20000, /^eval failed: this workspace is not trusted/) };
  });

  await step('trusted', async () => {
    const before = serverPids();
    await command('Workspaces: Manage Workspace Trust');
    const trust = page.locator('.workspace-trust-editor .monaco-button', { hasText: /^Trust$/ }).first();
    await trust.waitFor({ timeout: 15000 });
    await trust.click();
    await until('Restricted Mode to go', 15000, async () => {
      const shown = words(await page.locator('.part.statusbar').innerText({ timeout: 1000 }));
      return !shown.includes('Restricted Mode');
    });
    return { restarted: await newServer(before) };
  });

  await step('evaluate trusted', async () => {
    await palette('Evaluate the harness');
    await answer('1');
    return { status: await statusMatching('the evaluation to end', 300000, /^eval (done|failed|cancelled)/) };
  });
}
