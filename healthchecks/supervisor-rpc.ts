/**
 * A minimal XML-RPC client for supervisord's unix socket: the few calls the health listener and
 * the AIO health check need. (No maintained npm XML-RPC client does unix sockets simply.)
 */
import http from 'node:http';

export type RpcValue = string | number | boolean | RpcValue[] | { [k: string]: RpcValue };

export interface ProcessInfo {
  name: string;
  statename: string;
  pid: number;
  start: number;
  now: number;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const encode = (v: string | boolean | number) =>
  typeof v === 'boolean' ? `<boolean>${v ? 1 : 0}</boolean>` : typeof v === 'number' ? `<int>${v}</int>` : `<string>${esc(v)}</string>`;
const unesc = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');

/** Parse one XML-RPC <value>…</value> payload starting at `pos`; returns the value and the end. */
function parseValue(xml: string, pos: number): [RpcValue, number] {
  const open = /<value>\s*(?:<(\w+)>)?/y;
  open.lastIndex = pos;
  const m = open.exec(xml);
  if (!m) throw new Error(`bad XML-RPC value at ${pos}`);
  const type = m[1];
  let i = open.lastIndex;
  if (type === 'array') {
    const items: RpcValue[] = [];
    i = xml.indexOf('<data>', i) + 6;
    for (;;) {
      const next = xml.slice(i).search(/\S/) + i;
      if (xml.startsWith('</data>', next)) {
        i = xml.indexOf('</value>', next) + 8;
        return [items, i];
      }
      const [v, end] = parseValue(xml, next);
      items.push(v);
      i = end;
    }
  }
  if (type === 'struct') {
    const obj: Record<string, RpcValue> = {};
    for (;;) {
      const next = xml.slice(i).search(/\S/) + i;
      if (xml.startsWith('</struct>', next)) {
        i = xml.indexOf('</value>', next) + 8;
        return [obj, i];
      }
      const nameMatch = /<member>\s*<name>([^<]*)<\/name>\s*/y;
      nameMatch.lastIndex = next;
      const nm = nameMatch.exec(xml);
      if (!nm) throw new Error('bad XML-RPC struct');
      const [v, end] = parseValue(xml, nameMatch.lastIndex);
      obj[unesc(nm[1] ?? '')] = v;
      i = xml.indexOf('</member>', end) + 9;
    }
  }
  const close = type ? `</${type}>` : '</value>';
  const endText = xml.indexOf(close, i);
  const text = unesc(xml.slice(i, endText));
  const after = type ? xml.indexOf('</value>', endText) + 8 : endText + 8;
  if (type === 'int' || type === 'i4' || type === 'double') return [Number(text), after];
  if (type === 'boolean') return [text.trim() === '1', after];
  return [text, after];
}

export function createSupervisorClient(socketPath: string, timeoutMs = 5000) {
  const call = (method: string, ...params: (string | boolean | number)[]): Promise<RpcValue> =>
    new Promise((resolve, reject) => {
      const body = `<?xml version="1.0"?><methodCall><methodName>${method}</methodName><params>${params.map((p) => `<param><value>${encode(p)}</value></param>`).join('')}</params></methodCall>`;
      const req = http.request({ socketPath, path: '/RPC2', method: 'POST', headers: { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(body) }, timeout: timeoutMs }, (res) => {
        let xml = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (xml += d));
        res.on('end', () => {
          try {
            if (xml.includes('<fault>')) {
              const [fault] = parseValue(xml, xml.indexOf('<value>', xml.indexOf('<fault>')));
              reject(new Error(`${method}: ${(fault as Record<string, RpcValue>).faultString}`));
              return;
            }
            resolve(parseValue(xml, xml.indexOf('<value>', xml.indexOf('<param>')))[0]);
          } catch (err) {
            reject(err as Error);
          }
        });
      });
      req.on('timeout', () => req.destroy(new Error(`${method}: supervisord did not answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  return {
    call,
    allProcessInfo: async () => (await call('supervisor.getAllProcessInfo')) as unknown as ProcessInfo[],
    processInfo: async (name: string) => (await call('supervisor.getProcessInfo', name)) as unknown as ProcessInfo,
    /** RUNNING, or SHUTDOWN / RESTARTING while supervisord stops everything. */
    state: async () => ((await call('supervisor.getState')) as { statename: string }).statename,
    allConfigInfo: async () => (await call('supervisor.getAllConfigInfo')) as unknown as { name: string; stopwaitsecs: number }[],
    signal: (name: string, signal: string) => call('supervisor.signalProcess', name, signal),
    stop: (name: string) => call('supervisor.stopProcess', name, true),
    start: (name: string, wait = true) => call('supervisor.startProcess', name, wait),
    shutdown: () => call('supervisor.shutdown'),
  };
}

export type SupervisorClient = ReturnType<typeof createSupervisorClient>;
