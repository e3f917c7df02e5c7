// loopback.js is preloaded (node --require) into emulators that have no
// option to choose their listen address (kinesis-local binds every
// interface). It rewrites the host of every TCP listen() to the loopback
// address in WEATHERD_EMU_BIND (default 127.0.0.1), so nothing started by
// emulators.sh is reachable from outside this machine.
'use strict'

const net = require('net')

const host = process.env.WEATHERD_EMU_BIND || '127.0.0.1'
const listen = net.Server.prototype.listen

net.Server.prototype.listen = function (...args) {
  const first = args[0]
  if (first !== null && typeof first === 'object' && !Array.isArray(first)) {
    if (first.path === undefined && first.fd === undefined && first._handle === undefined && first.handle === undefined) {
      args[0] = Object.assign({}, first, { host })
    }
  } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    if (typeof args[1] === 'string') {
      args[1] = host
    } else {
      args.splice(1, 0, host)
    }
  }
  return listen.apply(this, args)
}
