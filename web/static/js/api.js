// The REST API client. The session is an HttpOnly cookie the browser sends
// by itself; every request that changes something carries the CSRF header
// the server requires with cookie sessions (a cross-site form cannot set
// it).

export const BASE = '/api/v1';

/** ApiError carries the RFC 9457 problem document of a failed call. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(humanize(status, problem));
    this.status = status;
    this.problem = problem || {};
    this.kind = (this.problem.type || '').split('/').pop();
  }
}

let onSignedOut = () => {};
/** whenSignedOut sets what happens when any call answers 401. */
export function whenSignedOut(fn) { onSignedOut = fn; }

/** api calls the API and returns the parsed JSON (null for 204). */
export async function api(method, path, body, { quiet401 = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['X-Wattson-CSRF'] = '1';
  const init = { method, headers, credentials: 'same-origin' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(BASE + path, init);
  } catch {
    throw new ApiError(0, { title: 'Network error' });
  }
  if (res.status === 204) return null;
  let data = null;
  const text = await res.text();
  if (text) {
    try { data = JSON.parse(text); } catch { data = { detail: text }; }
  }
  if (!res.ok) {
    if (res.status === 401 && !quiet401) onSignedOut();
    throw new ApiError(res.status, data);
  }
  return data;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body ?? {});
export const put = (path, body) => api('PUT', path, body);
export const del = (path) => api('DELETE', path);
export const enc = encodeURIComponent;

/** qs builds a query string from the non-empty values of obj. */
export function qs(obj) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(obj)) if (v !== '' && v != null) p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : '';
}

/**
 * humanize turns a problem document into a sentence for a person. The
 * problem's `type` is stable; its `detail` is already written for people
 * but speaks API, so the common cases get our own words.
 */
export function humanize(status, p = {}) {
  const kind = (p.type || '').split('/').pop();
  switch (kind) {
    case 'charger-not-connected': return "This charger is offline — commands can't reach it.";
    case 'command-rejected': return `The charger refused: ${p.answer?.status || 'Rejected'}`;
    case 'charger-timeout': return 'The charger did not answer in time';
    case 'connection-closed': return 'The charger hung up before it answered';
    case 'charger-error': return `The charger reported an error: ${p.errorCode || 'unknown'}${p.errorDescription ? ` — ${p.errorDescription}` : ''}`;
    case 'invalid-charger-response': return 'The charger sent an answer that breaks OCPP 1.6';
    case 'no-active-transaction': return 'Nothing is charging there any more';
    case 'forbidden': return `Your account may not do this. ${p.detail || ''}`.trim();
    case 'not-found': return p.detail ? `Not found: ${p.detail}` : 'Not found';
    case 'invalid-payload': case 'invalid-request':
      return p.field ? `Please check “${p.field}”: ${p.detail || p.title}` : (p.detail || p.title || 'The request was not valid');
  }
  if (status === 0) return "The server can't be reached — check your connection";
  if (status === 401) return 'Signed out — sign in again';
  if (status === 429) return 'Too many attempts — wait a minute and try again';
  if (status >= 500) return `The server had a problem${p.detail ? `: ${p.detail}` : ''}`;
  return p.detail || p.title || `Request failed (${status})`;
}

/**
 * commandOutcome reads the answer of POST /chargers/{id}/ocpp/{action}:
 * the charger's CALLRESULT arrives with 200 whatever it says, so a
 * Rejected is found here. Returns {ok, text}.
 */
export function commandOutcome(answer) {
  const s = answer?.status;
  switch (s) {
    case undefined: return { ok: true, text: 'Done' };
    case 'Accepted': case 'Unlocked': return { ok: true, text: `The charger answered: ${s}` };
    case 'Scheduled': return { ok: true, text: 'Scheduled: the charger applies it when the running session ends' };
    case 'RebootRequired': return { ok: true, text: 'Accepted — takes effect after the charger reboots (RebootRequired)' };
    case 'NotSupported': return { ok: false, text: "The charger doesn't support this: NotSupported" };
    case 'NotImplemented': return { ok: false, text: "The charger doesn't implement this: NotImplemented" };
    default: return { ok: false, text: `The charger refused: ${s}` };
  }
}
