'use strict'
// node --test miniprogram/   (Node's own runner; no npm packages)

const test = require('node:test')
const assert = require('node:assert/strict')
const { createApi, ApiError } = require('./api')

/** A scripted `wx`: each call takes the next scripted answer and is recorded. */
function fakeWx (script) {
  const calls = []
  const store = new Map()
  const answer = (options) => {
    calls.push(options)
    const next = script.shift()
    if (!next) throw new Error(`unscripted call to ${options.path || options.url}`)
    setImmediate(() => (next.fail ? options.fail(next.fail) : options.success(next)))
  }
  return {
    calls,
    store,
    cloud: { callContainer: answer },
    request: answer,
    getStorageSync: (key) => store.get(key),
    setStorageSync: (key, value) => store.set(key, value),
    removeStorageSync: (key) => store.delete(key)
  }
}

const ok = (data, statusCode = 200) => ({ statusCode, data: { code: 1, data, msg: 'success' } })
const failure = (statusCode, error, msg = 'x') =>
  ({ statusCode, data: { code: 0, data: {}, msg, error } })

test('a call through callContainer sends the service, the path and the token', async () => {
  const wx = fakeWx([ok(3)])
  wx.store.set('token', 'T1')
  const api = createApi({ wx, env: 'prod-1', service: 'svc' })
  assert.equal(await api.request({ path: '/api/count' }), 3)
  const [call] = wx.calls
  assert.deepEqual(call.config, { env: 'prod-1' })
  assert.equal(call.path, '/api/count')
  assert.equal(call.header['X-WX-SERVICE'], 'svc')
  assert.equal(call.header.Authorization, 'Bearer T1')
})

test('a public domain goes through wx.request', async () => {
  const wx = fakeWx([ok(1)])
  const api = createApi({ wx, baseUrl: 'https://api.example' })
  await api.request({ path: '/api/count', method: 'POST', data: { action: 'inc' } })
  assert.equal(wx.calls[0].url, 'https://api.example/api/count')
  assert.deepEqual(wx.calls[0].data, { action: 'inc' })
})

test('login keeps both tokens; logout forgets them', async () => {
  const wx = fakeWx([ok({ token: 'A', refresh_token: 'R', user_id: 7 }), ok({})])
  const api = createApi({ wx, env: 'e', service: 's' })
  const data = await api.login('code-1', { nickname: '小明' })
  assert.equal(data.user_id, 7)
  assert.deepEqual(wx.calls[0].data, { code: 'code-1', nickname: '小明' })
  assert.equal(wx.calls[0].header.Authorization, undefined)
  assert.equal(wx.store.get('token'), 'A')
  await api.logout()
  assert.equal(wx.store.has('token'), false)
  assert.equal(wx.store.has('refresh_token'), false)
})

test('an envelope failure rejects with its status, error and msg', async () => {
  const wx = fakeWx([failure(409, 'phone_taken', '该手机号已绑定其他用户')])
  const api = createApi({ wx, env: 'e', service: 's' })
  await assert.rejects(api.request({ path: '/api/user/phone', method: 'POST' }), (e) => {
    assert.ok(e instanceof ApiError)
    assert.deepEqual([e.status, e.error, e.msg], [409, 'phone_taken', '该手机号已绑定其他用户'])
    return true
  })
})

test('token_expired refreshes once, then sends the call again with the new token', async () => {
  const wx = fakeWx([
    failure(401, 'token_expired'),
    ok({ token: 'NEW', refresh_token: 'R2' }),
    ok({ id: 1 })
  ])
  wx.store.set('token', 'OLD')
  wx.store.set('refresh_token', 'R1')
  const api = createApi({ wx, env: 'e', service: 's' })
  assert.deepEqual(await api.request({ path: '/api/user/profile' }), { id: 1 })
  assert.equal(wx.calls[1].path, '/api/refresh_token')
  assert.deepEqual(wx.calls[1].data, { refresh_token: 'R1' })
  assert.equal(wx.calls[2].header.Authorization, 'Bearer NEW')
  assert.equal(wx.store.get('refresh_token'), 'R2')
})

test('concurrent calls that all meet token_expired share one refresh', async () => {
  const wx = fakeWx([
    failure(401, 'token_expired'),
    failure(401, 'token_expired'),
    ok({ token: 'NEW', refresh_token: 'R2' }),
    ok('a'),
    ok('b')
  ])
  wx.store.set('refresh_token', 'R1')
  const api = createApi({ wx, env: 'e', service: 's' })
  const results = await Promise.all([
    api.request({ path: '/api/a' }), api.request({ path: '/api/b' })
  ])
  assert.deepEqual(results.sort(), ['a', 'b'])
  assert.equal(wx.calls.filter((c) => c.path === '/api/refresh_token').length, 1)
})

test('a refused refresh is the error; the call is not sent a third time', async () => {
  const wx = fakeWx([failure(401, 'token_expired'), failure(401, 'token_invalid')])
  wx.store.set('refresh_token', 'R1')
  const api = createApi({ wx, env: 'e', service: 's' })
  await assert.rejects(api.request({ path: '/api/user/profile' }), { error: 'token_invalid' })
  assert.equal(wx.calls.length, 2)
})

test('other 401s are not refreshed', async () => {
  const wx = fakeWx([failure(401, 'token_invalid')])
  wx.store.set('refresh_token', 'R1')
  const api = createApi({ wx, env: 'e', service: 's' })
  await assert.rejects(api.request({ path: '/api/user/profile' }), { status: 401 })
  assert.equal(wx.calls.length, 1)
})

test('a body that is not the envelope is a gateway error', async () => {
  const wx = fakeWx([{ statusCode: 502, data: '<html>Bad Gateway</html>' }])
  const api = createApi({ wx, env: 'e', service: 's' })
  await assert.rejects(api.request({ path: '/api/count' }), { status: 502, error: 'gateway_error' })
})

test('a cold start (102002) is retried once for a GET', async () => {
  const wx = fakeWx([{ fail: { errCode: 102002, errMsg: 'timeout' } }, ok(5)])
  const api = createApi({ wx, env: 'e', service: 's' })
  assert.equal(await api.request({ path: '/api/count' }), 5)
  assert.equal(wx.calls.length, 2)
})

test('a cold start is not retried for a POST unless it says it is idempotent', async () => {
  const wx = fakeWx([{ fail: { errCode: 102002, errMsg: 'timeout' } }])
  const api = createApi({ wx, env: 'e', service: 's' })
  await assert.rejects(
    api.request({ path: '/api/count', method: 'POST', data: { action: 'inc' } }),
    { status: 0, error: 'platform_error' }
  )
  assert.equal(wx.calls.length, 1)

  const again = fakeWx([{ fail: { errCode: 102002 } }, ok(0)])
  const api2 = createApi({ wx: again, env: 'e', service: 's' })
  const cleared = await api2.request({
    path: '/api/count', method: 'POST', data: { action: 'clear' }, idempotent: true
  })
  assert.equal(cleared, 0)
  assert.equal(again.calls.length, 2)
})

test('other platform errors are not retried and say their code', async () => {
  const wx = fakeWx([{ fail: { errCode: -606001, errMsg: 'request too large' } }])
  const api = createApi({ wx, env: 'e', service: 's' })
  await assert.rejects(api.request({ path: '/api/count' }), (e) => {
    assert.equal(e.error, 'platform_error')
    assert.match(e.msg, /-606001/)
    return true
  })
  assert.equal(wx.calls.length, 1)
})

test('subscribe asks the user, then posts the result once as it came', async () => {
  const answer = { errMsg: 'requestSubscribeMessage:ok', T1: 'accept', T2: 'reject' }
  const data = { recorded: ['T1'], ignored: [], remaining: { T1: 1, T2: 0 } }
  const wx = fakeWx([{ fail: { errCode: 102002, errMsg: 'timeout' } }])
  const asked = []
  wx.requestSubscribeMessage = (options) => {
    asked.push(options.tmplIds)
    setImmediate(() => options.success(answer))
  }
  wx.store.set('token', 'T')
  const api = createApi({ wx, env: 'e', service: 's' })
  // A POST that may have arrived is not sent again: its accepts would count twice.
  await assert.rejects(api.subscribe(['T1', 'T2']), { error: 'platform_error' })
  assert.equal(wx.calls.length, 1)

  const again = fakeWx([ok(data)])
  again.requestSubscribeMessage = wx.requestSubscribeMessage
  const api2 = createApi({ wx: again, env: 'e', service: 's' })
  assert.deepEqual(await api2.subscribe(['T1', 'T2']), data)
  assert.deepEqual(asked, [['T1', 'T2'], ['T1', 'T2']])
  const [post] = again.calls
  assert.equal(post.path, '/api/user/subscriptions')
  assert.equal(post.method, 'POST')
  assert.deepEqual(post.data, answer)
})

test('subscribe posts nothing when the dialog fails', async () => {
  const wx = fakeWx([])
  wx.requestSubscribeMessage = (options) =>
    setImmediate(() => options.fail({ errCode: 20004, errMsg: 'main switch is off' }))
  const api = createApi({ wx, env: 'e', service: 's' })
  await assert.rejects(api.subscribe(['T1']), (e) => {
    assert.deepEqual([e.status, e.error], [0, 'platform_error'])
    assert.match(e.msg, /20004/)
    return true
  })
  assert.equal(wx.calls.length, 0)
})
