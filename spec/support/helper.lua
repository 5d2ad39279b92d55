-- busted helper: runs once per busted process, before any spec file.
-- Loading the support modules here keeps them (and the lazily started shared
-- emulator they hold) alive across spec files, which busted otherwise
-- insulates from each other. Nothing is started until a spec asks for it.
require "support.util"
require "support.fixtures"
require "support.emulator"
-- Load the C core once for the whole run when it is built; specs that need it
-- fail on their own with a clear message when it is not.
pcall(require, "graph.core")
