export { CorruptEntry, KvUnavailable, RevisionConflict, TooManyConflicts } from "./errors.js"
export { type JsonBucket, makeJsonBucket, openJsonBucket, plainJson, type Versioned } from "./json-bucket.js"
export { runWorkflow, type RunWorkflowOptions } from "./run-workflow.js"
export { InstanceTimers, type RunningScheduler, type TimerBucket, type TimerSchedulerOptions } from "./timers.js"
