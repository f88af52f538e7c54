// Haraka queue plugin for the benchmark: write each message to its own file and fsync it
// before answering OK, so Haraka's 250 means "on disk" as it does for Postfix and Postern.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
let n = 0;

exports.register = function () {
  this.dir = this.config.get('bench_fsync.ini', 'ini').main.dir;
};

exports.hook_queue = function (next, connection) {
  const txn = connection.transaction;
  const file = path.join(this.dir, `${process.pid}.${Date.now()}.${n++}.eml`);
  txn.message_stream.get_data((buf) => {
    fs.open(file, 'wx', (err, fd) => {
      if (err) return next(DENYSOFT, 'queue write failed');
      fs.write(fd, buf, (err2) => {
        if (err2) return fs.close(fd, () => next(DENYSOFT, 'queue write failed'));
        fs.fsync(fd, (err3) => fs.close(fd, () => next(err3 ? DENYSOFT : OK)));
      });
    });
  });
};
