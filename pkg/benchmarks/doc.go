// Package benchmarks holds Elevate's cross-cutting benchmarks: Lambda
// process start-up, the authorize path through the local gateway against
// its DynamoDB floor (alone and under 64 concurrent clients), the audit
// query over a million records against a parallel GET of the same objects,
// authorize and listing on a table of 100,000 requests and grants
// against an empty one, and the credentials route against a bare
// sts:AssumeRole and against the least work a correct implementation must
// do. `make bench` runs them (method and figures in
// BENCHMARKS.md); nothing here asserts a time.
package benchmarks
