// The Dockerfile, run without a container engine (CI has none): its build
// stage's RUN lines, with the repository standing for the WORKDIR the COPY
// lines fill, then its runtime stage as `docker run -p` would start it: the
// COPY --from, the USER (through setpriv when the test runs as root), the
// ENV, ENTRYPOINT and CMD, the HEALTHCHECK command, and STOPSIGNAL.
//
// The build reuses the debug build scripts/test has just made instead of a
// release build in a copy holding only what the COPY lines copy: either
// costs about 6 minutes on this machine (from nothing, on 2 shared cores).
// So the RUN line runs with cargo's dev profile (`--release` becomes
// nothing, `target/release/` `target/debug/`), where it finds its work
// done, and it still checks the command, `--locked` against Cargo.lock and
// the package. That the COPY lines bring all the build reads is checked
// from the compiler's own list of the files it read (the binary's dep-info
// file), the workspace's manifests and the folders rust-embed embeds in a
// release build. Only optimisation goes unchecked.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

import { repoRoot } from './support/servers.mjs';
import { all, envOf, execForm, last, readDockerfile } from './support/dockerfile.mjs';

const STARTUP_TIMEOUT_MS = 10_000;

/** The Dockerfile's command with the dev profile for the release one. */
function devProfile(text) {
  return text.replaceAll(' --release', '').replaceAll('target/release/', 'target/debug/');
}

/** COPY's sources and destination, and its `--from` stage if any. */
function copyOf(args) {
  const words = args.split(/\s+/);
  const from = words[0].startsWith('--from=') ? words.shift().slice('--from='.length) : undefined;
  return { from, sources: words.slice(0, -1), dest: words.at(-1) };
}

/** Copies `source` to `dest` as COPY does: into `dest` when it ends in `/`. */
function copy(source, dest) {
  const target = dest.endsWith('/') ? path.join(dest, path.basename(source)) : dest;
  mkdirSync(path.dirname(target), { recursive: true });
  cpSync(source, target, { recursive: true });
}

test('the Dockerfile builds and its image starts, answers its health check and stops on SIGTERM', async () => {
  const stages = readDockerfile(path.join(repoRoot, 'Dockerfile'));
  assert.ok(stages.length >= 2, 'a multi-stage Dockerfile');
  const [build, runtime] = [stages[0], stages.at(-1)];

  const targetDir = process.env.CARGO_TARGET_DIR ? path.resolve(repoRoot, process.env.CARGO_TARGET_DIR) : path.join(repoRoot, 'target');
  const workdir = last(build, 'WORKDIR');
  assert.ok(workdir?.startsWith('/'), 'the build stage sets an absolute WORKDIR');
  const copiedIn = all(build, 'COPY').flatMap((args) => copyOf(args).sources.map((source) => path.join(repoRoot, source)));
  const isCopied = (file) => copiedIn.some((source) => file === source || file.startsWith(`${source}/`));

  // Everything the build reads is copied in: each source file rustc read,
  // each workspace manifest, each folder the server embeds.
  const depInfo = readFileSync(path.join(targetDir, 'debug', 'switchboard.d'), 'utf8');
  const read = depInfo.split(/:\s/)[1].split(/\s+/).filter((file) => file.startsWith(`${repoRoot}/`));
  assert.ok(read.length > 10, `the dep-info file lists the sources: ${depInfo.slice(0, 200)}`);
  const metadata = JSON.parse(
    execFileSync('cargo', ['metadata', '--no-deps', '--format-version=1', '--locked', '--offline'], { cwd: repoRoot, encoding: 'utf8' }),
  );
  const manifests = metadata.packages.map((p) => p.manifest_path);
  const embedded = metadata.packages.flatMap((p) =>
    readdirSync(path.join(path.dirname(p.manifest_path), 'src'), { recursive: true })
      .filter((file) => file.endsWith('.rs'))
      .flatMap((file) => [...readFileSync(path.join(path.dirname(p.manifest_path), 'src', file), 'utf8').matchAll(/#\[folder = "([^"]+)"\]/g)])
      .map((m) => path.resolve(path.dirname(p.manifest_path), m[1]).replace(/\/$/, '')),
  );
  assert.ok(embedded.length > 0, 'the server embeds its pages');
  for (const file of [...read, ...manifests, ...embedded, path.join(repoRoot, 'Cargo.toml'), path.join(repoRoot, 'Cargo.lock')]) {
    assert.ok(isCopied(file), `the build reads ${path.relative(repoRoot, file)}, which no COPY line copies`);
  }

  const runs = all(build, 'RUN');
  assert.ok(runs.some((run) => run.includes('cargo build --release --locked -p switchboard-server')), runs.join('\n'));
  for (const run of runs) {
    const done = spawnSync('sh', ['-ec', devProfile(run)], { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] });
    assert.equal(done.status, 0, `RUN ${run} failed`);
  }

  // The runtime stage: its files under a root of its own.
  const root = mkdtempSync(path.join(os.tmpdir(), 'switchboard-image-'));
  chmodSync(root, 0o755);
  const copied = [];
  for (const args of all(runtime, 'COPY')) {
    const { from, sources, dest } = copyOf(args);
    assert.equal(from, build.name, `runtime COPY takes from the build stage: ${args}`);
    for (const source of sources) {
      assert.ok(source.startsWith(`${workdir}/`), `${source} is under the build WORKDIR`);
      const inWorkdir = devProfile(source).slice(workdir.length + 1);
      const built = inWorkdir.startsWith('target/') ? path.join(targetDir, inWorkdir.slice('target/'.length)) : path.join(repoRoot, inWorkdir);
      assert.ok(existsSync(built), `the build made ${source}`);
      copy(built, path.join(root, dest));
      copied.push(dest);
    }
  }
  const inImage = (word) => (copied.some((dest) => word === dest || word.startsWith(`${dest}/`)) ? path.join(root, word) : word);

  const user = last(runtime, 'USER');
  const [uid, gid] = (user ?? '').split(':');
  assert.match(uid ?? '', /^[1-9][0-9]*$/, `USER is a numeric non-root uid: ${user}`);
  const exposed = (last(runtime, 'EXPOSE') ?? '').split(/\s+/).map(Number);

  // `docker run -p 0:PORT`: each listener the image's ENV sets binds an
  // ephemeral port here, found from the startup log line.
  const imageEnv = envOf(runtime);
  const listeners = { SWITCHBOARD_LISTEN: 'listen', SWITCHBOARD_METRICS_LISTEN: 'metrics' };
  const ports = {};
  const runEnv = { PATH: '/usr/local/bin:/usr/bin:/bin', ...imageEnv, SWITCHBOARD_LOG_FORMAT: 'json' };
  for (const [name, field] of Object.entries(listeners)) {
    const [host, port] = imageEnv[name].split(/:(?=\d+$)/);
    assert.equal(host, '0.0.0.0', `${name} listens on every interface in the container`);
    assert.ok(exposed.includes(Number(port)), `EXPOSE lists ${name}'s port ${port}`);
    ports[field] = { container: port };
    runEnv[name] = `${host}:0`;
  }

  const command = [...execForm(last(runtime, 'ENTRYPOINT')), ...execForm(last(runtime, 'CMD') ?? '[]')].map(inImage);
  const asUser = process.getuid?.() === 0 ? ['setpriv', `--reuid=${uid}`, `--regid=${gid ?? uid}`, '--clear-groups', '--'] : [];
  const argv = [...asUser, ...command];
  const child = spawn(argv[0], argv.slice(1), { cwd: root, env: runEnv, stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  try {
    const logs = [];
    const startup = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no startup line within ${STARTUP_TIMEOUT_MS} ms:\n${logs.join('\n')}`)), STARTUP_TIMEOUT_MS);
      exited.then(({ code }) => {
        clearTimeout(timer);
        reject(new Error(`the image's command exited (${code}) before listening:\n${logs.join('\n')}`));
      });
      readline.createInterface({ input: child.stderr }).on('line', (line) => {
        logs.push(line);
        const entry = JSON.parse(line);
        if (entry.fields?.listen) {
          clearTimeout(timer);
          resolve(entry.fields);
        }
      });
    });
    for (const [field, port] of Object.entries(ports)) port.host = String(startup[field]).match(/:(\d+)\)?$/)[1];

    const health = (last(runtime, 'HEALTHCHECK') ?? '').match(/CMD\s+(\[.*\])$/);
    assert.ok(health, 'a HEALTHCHECK in exec form');
    const onHost = (word) => Object.values(ports).reduce((w, p) => w.replaceAll(`:${p.container}/`, `:${p.host}/`), inImage(word));
    const check = execForm(health[1]).map(onHost);
    assert.ok(check.some((word) => word.endsWith('/healthz')), `the health check asks /healthz: ${check}`);
    const checked = spawnSync(check[0], check.slice(1), { env: runEnv, encoding: 'utf8' });
    assert.equal(checked.status, 0, `HEALTHCHECK failed: ${checked.stderr}`);

    // The metrics port the image exposes serves /metrics (for Prometheus).
    const metrics = spawnSync(command[0], ['probe', `http://127.0.0.1:${ports.metrics.host}/metrics`], { encoding: 'utf8' });
    assert.equal(metrics.status, 0, metrics.stderr);

    const signal = last(runtime, 'STOPSIGNAL') ?? 'SIGTERM';
    child.kill(signal);
    assert.deepEqual(await exited, { code: 0, signal: null });
  } finally {
    child.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  }
});
