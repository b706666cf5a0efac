// Package benchmarks holds Elevate's cross-cutting benchmarks: Lambda
// process start-up, the authorize path through the local gateway against
// its DynamoDB floor (alone and under 64 concurrent clients), the audit
// query over a million records against a parallel GET of the same objects,
// and authorize and listing on a table of 100,000 requests and grants
// against an empty one. `make bench` runs them (method and figures in
// BENCHMARKS.md); nothing here asserts a time.
package benchmarks
