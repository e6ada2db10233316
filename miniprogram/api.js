/**
 * The mini program's half of the API contract: one `request()` for every call.
 *
 * Through `wx.cloud.callContainer` (Cloud Run's private link, no domain to
 * configure) or `wx.request` (a public domain). Either way the service answers
 * with real HTTP statuses and the envelope `{code, data, msg, error}`;
 * callContainer hands every status to `success` and keeps `fail` for the
 * platform's own errors (102002 timeout or cold start, -606001 request over
 * 100 KB, -606002 response over 1 MB, -501000 path or permission).
 *
 *   const { createApi } = require('./api')
 *   const api = createApi({ wx, env: 'prod-xxxx', service: 'flask-service' })
 *   await api.login((await wx.login()).code)
 *   const count = await api.request({ path: '/api/count' })
 *   await api.subscribe([templateId])   // from a tap: one message of it allowed per accept
 */

'use strict'

/** Platform errors worth one more try, for requests that may be sent twice. */
const RETRY_ONCE = new Set([102002])
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'])

class ApiError extends Error {
  /**
   * @param {number} status the HTTP status (0 when the platform failed the call)
   * @param {string} error the service's stable key, or `gateway_error` / `platform_error`
   * @param {string} msg for people
   */
  constructor (status, error, msg) {
    super(msg || error)
    this.name = 'ApiError'
    this.status = status
    this.error = error
    this.msg = msg
  }
}

function isEnvelope (body) {
  return body !== null && typeof body === 'object' && (body.code === 0 || body.code === 1) &&
    'data' in body
}

function createApi (options) {
  const wx = options.wx
  const useCloud = options.baseUrl === undefined
  const storage = options.storage || {
    get: (key) => (wx.getStorageSync ? wx.getStorageSync(key) : undefined),
    set: (key, value) => wx.setStorageSync && wx.setStorageSync(key, value),
    remove: (key) => wx.removeStorageSync && wx.removeStorageSync(key)
  }
  let refreshing = null // one refresh at a time, shared by every request that needs it

  function send (path, method, data, headers) {
    return new Promise((resolve) => {
      const done = {
        success: (res) => resolve({ ok: true, status: res.statusCode, body: res.data }),
        fail: (err) => resolve({ ok: false, err: err || {} })
      }
      if (useCloud) {
        wx.cloud.callContainer({
          config: { env: options.env },
          path,
          method,
          data,
          header: Object.assign({ 'X-WX-SERVICE': options.service }, headers),
          ...done
        })
      } else {
        wx.request({ url: options.baseUrl + path, method, data, header: headers, ...done })
      }
    })
  }

  async function transport (path, method, data, headers, idempotent) {
    let answer = await send(path, method, data, headers)
    if (!answer.ok && RETRY_ONCE.has(answer.err.errCode) && idempotent) {
      answer = await send(path, method, data, headers)
    }
    if (!answer.ok) {
      throw new ApiError(0, 'platform_error',
        `${answer.err.errCode === undefined ? '' : answer.err.errCode} ${answer.err.errMsg || ''}`.trim())
    }
    return answer
  }

  function headersFor (auth) {
    const headers = { 'Content-Type': 'application/json' }
    const token = auth && storage.get('token')
    if (token) headers.Authorization = `Bearer ${token}`
    return headers
  }

  function unwrap (answer) {
    const body = answer.body
    if (!isEnvelope(body)) {
      // The gateway's own answer (a cold start, a proxy page), not the service's envelope.
      throw new ApiError(answer.status, 'gateway_error', `HTTP ${answer.status}`)
    }
    if (body.code === 1) return body.data
    throw new ApiError(answer.status, body.error || 'unknown_error', body.msg)
  }

  function keep (data) {
    storage.set('token', data.token)
    storage.set('refresh_token', data.refresh_token)
    return data
  }

  async function refresh () {
    const raw = storage.get('refresh_token')
    if (!raw) throw new ApiError(401, 'token_expired', 'no refresh token')
    if (!refreshing) {
      refreshing = transport('/api/refresh_token', 'POST', { refresh_token: raw },
        headersFor(false), false)
        .then((answer) => keep(unwrap(answer)))
        .finally(() => { refreshing = null })
    }
    return refreshing
  }

  /**
   * One call. Resolves with the envelope's `data`; rejects with an ApiError.
   * A 401 `token_expired` is refreshed once and the call sent again (the 401
   * means the service did nothing). A platform timeout is retried once only
   * when the call may run twice: GET and the like, or `idempotent: true`.
   */
  async function request ({ path, method = 'GET', data, auth = true, idempotent } = {}) {
    const verb = method.toUpperCase()
    const twice = idempotent === undefined ? IDEMPOTENT.has(verb) : idempotent
    let answer = await transport(path, verb, data, headersFor(auth), twice)
    if (auth && answer.status === 401 && isEnvelope(answer.body) &&
        answer.body.error === 'token_expired') {
      await refresh()
      answer = await transport(path, verb, data, headersFor(auth), twice)
    }
    return unwrap(answer)
  }

  async function login (code, profile = {}) {
    const data = await request({
      path: '/api/login', method: 'POST', data: Object.assign({ code }, profile), auth: false
    })
    return keep(data)
  }

  /**
   * Ask the user for subscribe messages (订阅消息) and tell the service what they said.
   * Call it from a tap: WeChat shows the dialog only then. Resolves with the service's
   * `{recorded, ignored, remaining}`; the dialog's own `fail` (e.g. 20004, the user turned
   * subscribe messages off) is a `platform_error`, and nothing is posted. The result is
   * posted once, never retried: each accept it carries counts once.
   */
  async function subscribe (tmplIds) {
    const result = await new Promise((resolve, reject) => {
      wx.requestSubscribeMessage({
        tmplIds,
        success: resolve,
        fail: (err) => reject(new ApiError(0, 'platform_error',
          `${(err || {}).errCode === undefined ? '' : err.errCode} ${(err || {}).errMsg || ''}`.trim()))
      })
    })
    return request({ path: '/api/user/subscriptions', method: 'POST', data: result })
  }

  async function logout () {
    try {
      await request({ path: '/api/logout', method: 'POST' })
    } finally {
      storage.remove('token')
      storage.remove('refresh_token')
    }
  }

  return { request, login, logout, refresh, subscribe }
}

module.exports = { createApi, ApiError }
