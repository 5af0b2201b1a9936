#!/usr/bin/env bash
# Renders docs/summary.png (and docs/summary-failure.png): pictures of the job summary that a
# real goldsmith run writes, drawn the way GitHub draws a job summary.
#
#   bash docs/render-summary.sh            # from the repository root
#
# What it does:
#   1. Builds goldsmith (unless GOLDSMITH names a binary) and runs `05-golden-image --simulate`
#      twice in a temporary copy of capabilities/, modules/ and config.yaml:
#        - a run that succeeds after retries: the simulated Azure answers prepare-build-vm's first
#          two run-commands with the 409 "Run command extension execution is in progress"
#          conflict and run-vdot's first with VMAgentStatusCommunicationError (scenario `class`
#          faults, docs/simulator.md). These are used rather than `vm: … busy_for:` because a
#          `vm` fault registers the build VM (and its resource group) as existing before the
#          run, so create-resource-group and create-build-vm would show up as already-done;
#        - a run that fails: install-m365-apps gets VMExtensionProvisioningError, which is not
#          retried, and fail-fast skips the later stages.
#      The summary is the run's artifacts/runs/<run id>/summary.md, unchanged.
#   2. Converts each summary.md to HTML with `marked` (GFM: tables, raw HTML such as <details>),
#      styles it with `github-markdown-css` (light), turns ```mermaid blocks into diagrams with
#      the `mermaid` package's dist script (GitHub draws them too), inside a card like the one
#      GitHub puts around a job's summary ("<job> summary").
#   3. Screenshots the card with headless Chromium (Debian's `chromium`, driven by
#      `playwright-core`), then shrinks the PNG with pngquant and optipng.
#
# Needs: cargo, node/npm (packages go to a temporary directory), and Debian's chromium,
# pngquant and optipng (installed with apt-get when missing and running as root).
# Times in the chart are shown in UTC; GitHub shows them in the viewer's time zone.
# The run is simulated at the default --sim-speed 200, so durations are ~1/200 of Azure's.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out_dir="$repo/docs"
width=${WIDTH:-1200}          # CSS pixels of the page; the card is width - 32
job=${JOB_NAME:-build}        # the job name GitHub puts above the summary (README's example job)

MARKED=18.2.1
GITHUB_MARKDOWN_CSS=5.9.0
MERMAID=12.3.0
PLAYWRIGHT_CORE=1.65.1

work=$(mktemp -d "${TMPDIR:-/tmp}/goldsmith-summary.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- tools -------------------------------------------------------------------------------
need_apt=()
command -v chromium >/dev/null || need_apt+=(chromium)
command -v pngquant >/dev/null || need_apt+=(pngquant)
command -v optipng >/dev/null || need_apt+=(optipng)
fc-list 2>/dev/null | grep -qi 'dejavu\|liberation' || need_apt+=(fonts-dejavu-core fonts-liberation)
if ((${#need_apt[@]})); then
  if [[ $(id -u) == 0 ]]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "render-summary: please install: ${need_apt[*]}" >&2
    exit 1
  fi
fi
chromium_bin=${CHROMIUM:-}
if [[ -z $chromium_bin ]]; then
  # Debian's /usr/bin/chromium is a wrapper script; playwright wants the browser itself.
  if [[ -x /usr/lib/chromium/chromium ]]; then chromium_bin=/usr/lib/chromium/chromium
  else chromium_bin=$(command -v chromium); fi
fi

goldsmith=${GOLDSMITH:-}
if [[ -z $goldsmith ]]; then
  (cd "$repo" && cargo build --release --quiet)
  goldsmith="${CARGO_TARGET_DIR:-$repo/target}/release/goldsmith"
fi

(
  cd "$work"
  npm init -y >/dev/null
  # --loglevel=error: mermaid's parser asks for a newer node than it needs here, since it only
  # runs in the browser.
  npm install --loglevel=error --no-audit --no-fund \
    "marked@$MARKED" "github-markdown-css@$GITHUB_MARKDOWN_CSS" \
    "mermaid@$MERMAID" "playwright-core@$PLAYWRIGHT_CORE" >/dev/null
)

# --- the runs ----------------------------------------------------------------------------
rg=$(sed -n 's/^  resource_group: *//p' "$repo/config.yaml" | head -1)
vm=$(sed -n 's/^  build_vm_name: *//p' "$repo/config.yaml" | head -1)
echo "render-summary: resource group $rg, build VM $vm" >&2

# run <name> <scenario text>: prints the path of the run's summary.md
run() {
  local root="$work/$1"
  mkdir -p "$root"
  cp -r "$repo/capabilities" "$repo/modules" "$repo/config.yaml" "$root/"
  printf '%s\n' "$2" >"$root/scenario.yaml"
  # --simulate invents stand-ins for secrets, but the build VM's password is passed explicitly.
  (cd "$root" && ADMIN_PASSWORD='Sim-Passw0rd!x' "$goldsmith" --root "$root" \
      run 05-golden-image --simulate --with-dependencies --sim-scenario "$root/scenario.yaml" \
      >"$root/run.out" 2>"$root/run.err") || true
  local summary
  summary=$(ls "$root"/artifacts/runs/*/summary.md)
  grep '^goldsmith: run ' "$root/run.out" | tail -1 >&2
  echo "$summary"
}

ok_summary=$(run succeeded "faults:
  - op: prepare-build-vm
    command: vm run-command invoke
    attempts: 2
    class: run-command-conflict
  - op: run-vdot
    command: vm run-command invoke
    attempts: 1
    class: agent-not-ready")

failed_summary=$(run failed "faults:
  - op: install-m365-apps
    command: vm run-command invoke
    class: extension-error")

# --- the renderer ------------------------------------------------------------------------
cat >"$work/render.mjs" <<'JS'
// node render.mjs <summary.md> <out.png> <job name> <width> <chromium> [open]
// With `open`, the <details> blocks are shown opened, as after a click.
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import { Marked } from 'marked';
import { chromium } from 'playwright-core';

const [md, png, job, width, browserPath, open] = process.argv.slice(2);
const here = dirname(new URL(import.meta.url).pathname);
const mod = (p) => pathToFileURL(join(here, 'node_modules', p)).href;
const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const marked = new Marked({ gfm: true });
marked.use({
  renderer: {
    code(token) {
      if (token.lang === 'mermaid') return `<pre class="mermaid">${esc(token.text)}</pre>\n`;
      return false; // marked's own <pre><code>
    },
  },
});
const body = marked.parse(readFileSync(md, 'utf8'));

const page = `<!doctype html>
<html><head><meta charset="utf-8">
<link rel="stylesheet" href="${mod('github-markdown-css/github-markdown-light.css')}">
<style>
  html, body { margin: 0; background: #ffffff; }
  body { padding: 16px; font-family: -apple-system, BlinkMacSystemFont, "Segoe UI", "Noto Sans",
         Helvetica, Arial, sans-serif; }
  #card { border: 1px solid #d1d9e0; border-radius: 6px; background: #fff; overflow: hidden; }
  #card > header { padding: 16px 24px 14px; font-size: 16px; font-weight: 600; color: #1f2328;
         border-bottom: 1px solid #d1d9e0; background: #f6f8fa; }
  .markdown-body { padding: 24px 32px 16px; }
  /* GitHub draws a mermaid block in a frame as wide as the text. */
  .markdown-body pre.mermaid { background: #fff; padding: 8px 0; text-align: center; }
</style>
<script src="${mod('mermaid/dist/mermaid.min.js')}"></script>
</head><body>
<div id="card"><header>${esc(job)} summary</header>
<article class="markdown-body">
${body}
</article></div>
<script>
  mermaid.initialize({ startOnLoad: false, theme: 'default', securityLevel: 'strict' });
  window.rendered = mermaid.run({ querySelector: 'pre.mermaid' })
    .then(() => 'ok', (e) => 'mermaid: ' + e);
</script>
</body></html>`;
const html = png.replace(/\.png$/, '.html');
writeFileSync(html, page);

const browser = await chromium.launch({
  executablePath: browserPath,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const context = await browser.newContext({
    viewport: { width: Number(width), height: 800 }, deviceScaleFactor: 1, timezoneId: 'UTC',
  });
  const tab = await context.newPage();
  tab.on('pageerror', (e) => console.error('page error:', e.message));
  await tab.goto(pathToFileURL(html).href, { waitUntil: 'load' });
  const result = await tab.evaluate(() => window.rendered);
  if (result !== 'ok') throw new Error(result);
  if (open === 'open') await tab.evaluate(() => document.querySelectorAll('details').forEach((d) => { d.open = true; }));
  const svgs = await tab.locator('pre.mermaid svg').count();
  if (svgs !== (await tab.locator('pre.mermaid').count())) throw new Error('a mermaid block was not drawn');
  await tab.locator('body').screenshot({ path: png });
} finally {
  await browser.close();
}
JS

render() {
  local md=$1 png=$2 open=${3:-}
  TZ=UTC node "$work/render.mjs" "$md" "$work/$(basename "$png")" "$job" "$width" "$chromium_bin" ${open:+"$open"}
  pngquant --force --quality 70-95 --speed 1 --output "$work/q.png" "$work/$(basename "$png")"
  optipng -quiet -o5 "$work/q.png"
  cp "$work/q.png" "$png"
  echo "render-summary: wrote $png ($(stat -c %s "$png") bytes)" >&2
}

render "$ok_summary" "$out_dir/summary.png"
# The failure picture shows the failure's <details> opened, as after a click on it.
render "$failed_summary" "$out_dir/summary-failure.png" open
