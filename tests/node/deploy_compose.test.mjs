// deploy/docker-compose.yml, read with a real YAML parser (no container
// engine runs here): it names the services the issue asks for, every file
// it mounts exists, coturn's secret is the nodes' TURN secret, Prometheus
// scrapes every node's metrics port, Grafana is provisioned with the
// dashboard, and the nodes' config file is one switchboard accepts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

import { repoRoot, switchboardBin } from './support/servers.mjs';
import { envOf, last, readDockerfile } from './support/dockerfile.mjs';

const deploy = path.join(repoRoot, 'deploy');
/** Compose's own reading: YAML 1.2 with `<<` merge keys. */
const readYaml = (file) => parse(readFileSync(file, 'utf8'), { merge: true });
const compose = readYaml(path.join(deploy, 'docker-compose.yml'));
const nodes = Object.keys(compose.services).filter((name) => name.startsWith('switchboard-'));

/** The dashboard (its own test checks its queries against a real scrape). */
const DASHBOARD = 'grafana/switchboard.json';

/** `host:container[:mode]` volumes with a host path, as [host, container]. */
function mounts(service) {
  return (service.volumes ?? [])
    .map((volume) => volume.split(':'))
    .filter(([host]) => host.startsWith('./') || host.startsWith('../'))
    .map(([host, container]) => [path.normalize(host), container]);
}

test('compose runs three switchboard nodes, Redis, coturn, Prometheus and Grafana', () => {
  assert.deepEqual(nodes, ['switchboard-1', 'switchboard-2', 'switchboard-3']);
  for (const name of ['redis', 'coturn', 'prometheus', 'grafana']) assert.ok(compose.services[name], name);
  const published = new Set();
  for (const name of nodes) {
    const node = compose.services[name];
    assert.ok(existsSync(path.join(deploy, node.build.context, node.build.dockerfile)), `${name} builds the Dockerfile`);
    const [port] = node.ports;
    assert.ok(!published.has(port), `${name} publishes a port of its own`);
    published.add(port);
    // Nodes run independently until clustering lands, but are told where Redis is.
    assert.equal(new URL(node.environment.SWITCHBOARD_REDIS_URL).hostname, 'redis');
  }
});

test('every file compose mounts exists', () => {
  for (const [name, service] of Object.entries(compose.services)) {
    for (const [host] of mounts(service)) {
      assert.ok(existsSync(path.join(deploy, host)), `${name} mounts deploy/${host}, which does not exist`);
    }
  }
});

test("coturn's static-auth-secret is the nodes' --turn-secret", () => {
  const flag = compose.services.coturn.command.find((arg) => arg.startsWith('--static-auth-secret='));
  assert.ok(flag, 'coturn takes a static auth secret');
  assert.ok(compose.services.coturn.command.includes('--use-auth-secret'));
  const secret = flag.slice('--static-auth-secret='.length);
  for (const name of nodes) assert.equal(compose.services[name].environment.SWITCHBOARD_TURN_SECRET, secret, name);
});

test("Prometheus scrapes every node's metrics listener", () => {
  const [prometheusYml] = mounts(compose.services.prometheus).find(([, inside]) => inside === '/etc/prometheus/prometheus.yml');
  const config = readYaml(path.join(deploy, prometheusYml));
  const targets = config.scrape_configs.flatMap((job) => job.static_configs.flatMap((c) => c.targets));
  const runtime = readDockerfile(path.join(repoRoot, 'Dockerfile')).at(-1);
  const metricsPort = envOf(runtime).SWITCHBOARD_METRICS_LISTEN.split(':').at(-1);
  assert.ok(last(runtime, 'EXPOSE').split(/\s+/).includes(metricsPort));
  assert.deepEqual(targets.sort(), nodes.map((name) => `${name}:${metricsPort}`).sort());
});

test('Grafana is provisioned with Prometheus and the switchboard dashboard', () => {
  const grafana = mounts(compose.services.grafana);
  const provisioning = grafana.find(([, inside]) => inside === '/etc/grafana/provisioning');
  assert.ok(provisioning, 'the provisioning folder is mounted');
  const dashboard = grafana.find(([host]) => host === DASHBOARD);
  assert.ok(dashboard, `${DASHBOARD} is mounted`);

  const sources = readYaml(path.join(deploy, provisioning[0], 'datasources', 'prometheus.yml')).datasources;
  const prometheus = sources.find((source) => source.type === 'prometheus');
  assert.equal(new URL(prometheus.url).hostname, 'prometheus');
  assert.ok(prometheus.isDefault);

  const providers = readYaml(path.join(deploy, provisioning[0], 'dashboards', 'switchboard.yml')).providers;
  assert.ok(providers.some((p) => p.type === 'file' && path.dirname(dashboard[1]) === p.options.path), 'a provider reads the mounted dashboard');
});

test("the nodes' config file is one switchboard accepts", () => {
  for (const name of nodes) {
    const node = compose.services[name];
    const [host] = mounts(node).find(([, inside]) => inside === node.environment.SWITCHBOARD_CONFIG);
    const printed = execFileSync(switchboardBin(), ['config', 'print', '--config', path.join(deploy, host)], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH },
    });
    assert.match(printed, /^ice-server = \[.*\]  # file$/m);
  }
});
