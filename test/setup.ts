// Loaded by mocha before any suite (see .mocharc.json).
import "../offchain/core/polyfills.js";
