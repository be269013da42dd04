// Public surface of the matching half of the core (see docs/matching.md).
export { ALLOW_ALL_RISK_HOOKS, type BookDump, type BookFactory, type BookOptions, type OrderBook, type RiskHooks } from "./book.js";
export {
  MatchingEngine, runMatch, TradePositionHooks,
  type MatchBookJson, type MatchingEngineOptions, type MatchRejectionJson, type MatchResult, type MatchTradeJson,
  type OrderCommand, type RunMatchOptions,
} from "./engine.js";
export { createFastBook, FastOrderBook } from "./fast-book.js";
export { createNaiveBook, NaiveOrderBook } from "./naive-book.js";
export { parseMatchLine, validateMatchEvent, type MatchInput } from "./schema.js";
export * from "./types.js";
