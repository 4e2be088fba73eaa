export { type ChildOptions, runChild, settledMemoryUsage } from "./child.js";
export { defineSuite, type Extra, type Impl, type Suite, type SuiteCase } from "./define.js";
export { type CaseResult, formatMarkdown, type ImplResult, runSuite, type SuiteResult } from "./run.js";
export { type Summary, summarize } from "./stats.js";
