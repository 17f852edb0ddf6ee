// A charger built on ocpp-rpc in strict mode: it validates every frame it
// sends and receives against the official OCPP 1.6 schemas. The Go test in
// csms/interop_test.go runs it against Wattson.
//
//   node charger.mjs ws://127.0.0.1:PORT/ocpp/ CHARGER_ID
//
// It writes one JSON object per line to stdout and exits 0 once the central
// system has sent it Reset and GetConfiguration and both were answered.
import { RPCClient } from 'ocpp-rpc';

const [base, identity] = process.argv.slice(2);
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const fail = (err) => { out({ error: String(err && err.stack || err) }); process.exit(1); };
setTimeout(() => fail('timed out'), 20000).unref();

const strict = new RPCClient({ endpoint: base, identity, protocols: ['ocpp1.6'], strictMode: true });
let resetSeen = null;
strict.handle('Reset', ({ params }) => {
  resetSeen = params;
  return { status: 'Accepted' };
});
strict.handle('GetConfiguration', ({ params }) => {
  out({ reset: resetSeen, getConfiguration: params });
  setTimeout(async () => { await strict.close(); process.exit(0); }, 50);
  return {
    configurationKey: [{ key: 'HeartbeatInterval', readonly: false, value: '60' }],
    unknownKey: (params.key || []).filter((k) => k !== 'HeartbeatInterval'),
  };
});

try {
  await strict.connect();
  const boot = await strict.call('BootNotification', { chargePointVendor: 'ocpp-rpc', chargePointModel: 'strict', firmwareVersion: '2.2.1' });
  await strict.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available', timestamp: new Date().toISOString() });
  const heartbeat = await strict.call('Heartbeat', {});
  const authorize = await strict.call('Authorize', { idTag: 'CARD-1' });
  // An action that only the central system sends: the central system
  // must refuse it.
  let notSupported = null;
  try {
    await strict.call('ClearCache', {});
  } catch (e) {
    notSupported = e.rpcErrorCode;
  }

  // A lax client sends what strict mode would refuse to send, to see
  // Wattson's CALLERROR for a payload that breaks the schema.
  const lax = new RPCClient({ endpoint: base, identity: identity + '-lax', protocols: ['ocpp1.6'] });
  await lax.connect();
  let invalid = null;
  try {
    await lax.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Dancing' });
  } catch (e) {
    invalid = { code: e.rpcErrorCode, message: e.rpcErrorMessage };
  }
  await lax.close();

  out({ boot, heartbeat, authorize, notSupported, invalid, protocol: strict.protocol });
  out({ booted: true });
} catch (e) {
  fail(e);
}
