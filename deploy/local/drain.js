// drain.js is preloaded (node --require) into kinesis-local so that a
// SIGTERM stops it promptly and, with WEATHERD_EMU_PERSIST=1, without losing
// acknowledged records:
//
//   - kinesis-local's HTTP server shuts down gracefully, waiting for the idle
//     keep-alive connections that AWS SDK clients keep open, so on its own a
//     SIGTERM is ignored until emulators.sh sends SIGKILL;
//   - it persists its streams every PERSIST_INTERVAL, not at shutdown, so
//     records acknowledged in the last interval would be lost by a restart.
//
// On SIGTERM this file stops accepting connections and cuts the open ones
// (so nothing more is acknowledged), waits DRAIN_MS (two persist intervals
// when persisting, else nothing), then runs kinesis-local's own SIGTERM
// handlers, and exits at the latest 5 s later.
'use strict'

const net = require('net')

const persisting = process.env.SHOULD_PERSIST_DATA === 'true'
const drainMs = Number(process.env.WEATHERD_EMU_DRAIN_MS || (persisting ? 2500 : 0))

const sockets = new Set()
const servers = new Set()
const emit = net.Server.prototype.emit
net.Server.prototype.emit = function (event, ...args) {
  if (event === 'connection' && args[0] instanceof net.Socket) {
    const s = args[0]
    servers.add(this)
    sockets.add(s)
    s.once('close', () => sockets.delete(s))
  }
  return emit.call(this, event, ...args)
}

// Hold back the emulator's own SIGTERM handlers until the drain is done.
const held = []
for (const name of ['on', 'once', 'addListener', 'prependListener', 'prependOnceListener']) {
  const orig = process[name]
  process[name] = function (event, fn) {
    if (event === 'SIGTERM' && fn !== onTerm) {
      held.push(fn)
      return this
    }
    return orig.call(this, event, fn)
  }
}

let terminating = false
function onTerm () {
  if (terminating) return
  terminating = true
  for (const srv of servers) srv.close()
  const cut = () => { for (const s of sockets) s.destroy() }
  cut()
  const t = setInterval(cut, 100)
  setTimeout(() => {
    clearInterval(t)
    keepDrainedSnapshot()
    setTimeout(() => process.exit(0), 5000).unref()
    if (held.length === 0) process.exit(0)
    for (const fn of held) fn('SIGTERM')
  }, drainMs)
}
process.on('SIGTERM', onTerm)

// keepDrainedSnapshot copies the persisted streams once the drain is over:
// nothing has been acknowledged since the connections were cut and a full
// save has happened since, so the copy is complete. kinesis-local writes its
// file in place; if the exit below cuts a later write short, emulators.sh
// starts from this copy instead of a truncated file.
function keepDrainedSnapshot () {
  const dir = process.env.PERSIST_PATH
  if (!persisting || !dir) return
  const fs = require('fs')
  const path = require('path')
  const file = path.join(dir, 'kinesis-data.json')
  try {
    const data = fs.readFileSync(file)
    JSON.parse(data)
    fs.writeFileSync(file + '.drained.tmp', data)
    fs.renameSync(file + '.drained.tmp', file + '.drained')
  } catch (err) {
    process.stderr.write('drain: no complete snapshot of ' + file + ': ' + err.message + '\n')
  }
}
