/**
 * dsn/: delivery status notifications (RFC 3464) — bounces, delay warnings, success
 * reports and postmaster notices — and hop-count loop protection. The scheduler calls
 * planNotices after each delivery attempt and enqueues what it returns; see docs/dsn.md.
 */
export type { AttemptResult, DsnSettings, Notice, NoticeKind, NoticeLogAs, NoticePlan, OriginalMessage, ReportKind } from './types.js';
export { dsnSettings } from './settings.js';
export { planNotices, wantsNotice, isDoubleBounceSender, delayWarningDue, type PlanInput } from './plan.js';
export { buildDsnMessage, actionFor, type DsnMessageOptions } from './message.js';
export { countReceived, checkHops, TOO_MANY_HOPS_REPLY } from './hops.js';
export { noticeToQueuedMessage, logNoticeQueued, logPlanNotes } from './queue.js';
