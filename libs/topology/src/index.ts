export { diffBucket, diffConsumer, diffStream, type FieldChange, type ResourceDiff, type ResourceKind, type ResourcePlan } from "./diff.js"
export { BucketSpec, type BucketSpecInput, consumer, ConsumerSpec, type ConsumerSpecInput, defineTopology, mergeTopologies, REPLAY_SUBJECT_PREFIX, replaySubjectOf, replaySubjectsOf, replicatedTopology, StreamSpec, type StreamSpecInput, Topology, type TopologyInput, withReplaySubjects } from "./spec.js"
export { subjectMatches } from "./subject.js"
export { type DeadLetterStreamOptions, deadLetterSubject, deadLetterTopology, defaultDeadLetters } from "./dead-letters.js"
