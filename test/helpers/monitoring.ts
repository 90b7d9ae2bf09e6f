/**
 * A real Prometheus and Alertmanager (Debian's packages) for tests, on loopback ports, with the
 * configuration `tapstack setup` renders (cli/setup/monitoring-templates.ts) but short intervals, and
 * rules derived from the shipped ones with every `for:` shortened (the shipped rules themselves are
 * what promtool tests). Started detached, tracked by the reaper, stopped by PID. Plus a webhook
 * receiver and an SMTP server to catch what Alertmanager sends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';
import YAML from 'yaml';
import { renderAlertmanagerConfig, renderPrometheusConfig } from '../../cli/setup/monitoring-templates.js';
import type { Config } from '../../services/shared/config.js';
import { tempDir } from './env.js';
import { freePort, waitFor } from './ports.js';
import { track } from './reaper-client.js';

export const RULES_DIR = path.join(process.cwd(), 'monitoring', 'prometheus', 'rules');

export interface Monitoring {
  prometheus: string;
  alertmanager: string;
  query(expr: string): Promise<{ status: string; error?: string; data?: { resultType: string; result: unknown[] } }>;
  stop(): Promise<void>;
  output(): string;
}

/** The shipped rule files with each `for:` cut to `forSeconds` (the expressions are unchanged). */
export function writeFastRules(dir: string, forSeconds: number): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const files = fs.readdirSync(RULES_DIR).filter((f) => f.endsWith('.rules.yml'));
  for (const f of files) {
    const doc = YAML.parse(fs.readFileSync(path.join(RULES_DIR, f), 'utf8')) as { groups: { rules: { for?: string }[] }[] };
    for (const g of doc.groups) for (const r of g.rules) if (r.for) r.for = `${forSeconds}s`;
    fs.writeFileSync(path.join(dir, f), YAML.stringify(doc));
  }
  return files;
}

function startDetached(cmd: string, args: string[], log: string): ChildProcess {
  const fd = fs.openSync(log, 'a');
  const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], detached: true });
  fs.closeSync(fd);
  track(child.pid);
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(child.pid as number, 'SIGTERM');
  await exited;
}

export async function startMonitoring(config: Config): Promise<Monitoring> {
  const root = tempDir('tapstack-mon-');
  const promDir = path.join(root, 'prometheus');
  writeFastRules(path.join(promDir, 'rules'), 2);
  const template = fs.readFileSync(path.join(process.cwd(), 'monitoring', 'prometheus', 'prometheus.yml.template'), 'utf8');
  fs.writeFileSync(path.join(promDir, 'prometheus.yml'), renderPrometheusConfig(template, config, { scrapeInterval: '1s', evaluationInterval: '1s' }));
  fs.mkdirSync(path.join(root, 'alertmanager'));
  fs.writeFileSync(path.join(root, 'alertmanager', 'alertmanager.yml'), renderAlertmanagerConfig(config, { groupWait: '1s', groupInterval: '2s', repeatInterval: '1h', resolveTimeout: '5m' }));
  const m = config.monitoring;
  const prometheus = `http://${m.host}:${m.prometheusPort}`;
  const alertmanager = `http://${m.host}:${m.alertmanagerPort}`;
  const log = path.join(root, 'monitoring.log');
  const am = startDetached('prometheus-alertmanager', [`--config.file=${root}/alertmanager/alertmanager.yml`, `--storage.path=${root}/am-data`, `--web.listen-address=${m.host}:${m.alertmanagerPort}`, '--cluster.listen-address='], log);
  const prom = startDetached('prometheus', [`--config.file=${promDir}/prometheus.yml`, `--storage.tsdb.path=${root}/tsdb`, `--web.listen-address=${m.host}:${m.prometheusPort}`], log);
  const output = () => fs.readFileSync(log, 'utf8');
  const ready = async (base: string) => (await fetch(`${base}/-/ready`).catch(() => undefined))?.ok;
  await waitFor(async () => (await ready(prometheus)) && (await ready(alertmanager)), 'prometheus and alertmanager ready', 30_000, 200).catch((err: Error) => {
    throw new Error(`${err.message}\n${output().slice(-3000)}`);
  });
  return {
    prometheus,
    alertmanager,
    output,
    query: async (expr) => (await fetch(`${prometheus}/api/v1/query?query=${encodeURIComponent(expr)}`)).json() as never,
    stop: async () => {
      await Promise.all([stopChild(prom), stopChild(am)]);
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

export interface Sink<T> {
  url: string;
  received: T[];
  stop(): Promise<void>;
}

/** An HTTP endpoint that records every Alertmanager webhook payload. */
export async function startWebhookSink(): Promise<Sink<{ status: string; alerts: { status: string; labels: Record<string, string> }[] }>> {
  const received: Sink<never>['received'] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      try {
        received.push(JSON.parse(body) as never);
      } catch {
        /* not JSON: ignored */
      }
      res.writeHead(200).end();
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${port}/alerts`, received, stop: () => new Promise((r) => server.close(() => r())) };
}

/** A plain SMTP server on loopback that keeps every message it is given. */
export async function startSmtpSink(): Promise<Sink<{ to: string[]; text: string }> & { port: number }> {
  const received: { to: string[]; text: string }[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, cb) {
      let text = '';
      stream.on('data', (d: Buffer) => (text += d.toString()));
      stream.on('end', () => {
        received.push({ to: session.envelope.rcptTo.map((r) => r.address), text });
        cb();
      });
    },
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return { url: `127.0.0.1:${port}`, port, received, stop: () => new Promise((r) => server.close(() => r())) };
}
