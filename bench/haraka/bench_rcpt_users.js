// Haraka plugin for the benchmark: recipient validation at RCPT for the two bench domains
// (rcpt_to.in_host_list accepts any user of a listed domain; Postfix and Postern do not).
'use strict';
exports.register = function () {
  this.users = new Set(this.config.get('bench_users', 'list').map((u) => u.toLowerCase()));
};
exports.hook_rcpt = function (next, connection, params) {
  const a = params[0];
  const rcpt = (typeof a.address === 'function' ? a.address() : a.address ?? `${a.user}@${a.host}`).toLowerCase();
  if (this.users.has(rcpt)) return next(OK);
  return next(DENY, 'User unknown');
};
