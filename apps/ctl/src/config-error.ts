// Loaded only when a setting is wrong: describeConfigError lives beside the services' shutdown code,
// and the package index loads OpenTelemetry and every consumer. (A module of the app, because the
// workspace's lint forbids importing a library both statically and dynamically.)
export { describeConfigError } from "@conveyor/nats"
