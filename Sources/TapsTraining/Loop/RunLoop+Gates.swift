// TapsTraining: the run loop's gates: flips, the settle phase and the storage budget (docs/method.md "Training recipe", "Storage budget").
import Foundation
import TAPS
import TapsData
import TapsNN
import TapsTensor

extension RunLoop {
    // MARK: - Storage budget (docs/method.md "Storage budget")

    /// The backbone's parameter count (at least 1: the denominator of every share below).
    private func backbone(_ task: TaskNetwork) -> Double { Double(max(ParameterAccounting(task).backboneParameters, 1)) }

    /// Share of the backbone's parameters taken by a member's active deltas.
    func deltaCost(_ member: RunMember, active: [Bool]? = nil) -> Double {
        guard let task = member.task else { return 0 }
        let on = active ?? task.gatedLayers.map(\.isActive)
        let used = zip(task.gatedLayers, on).reduce(0) { $0 + ($1.1 ? $1.0.weightCount : 0) }
        return Double(used) / backbone(task)
    }

    /// The budget as a share of the backbone (`--budget`, or `--budget-bytes` over 4 bytes a parameter).
    func budgetShare(_ member: RunMember) -> Double? {
        if let b = config.budget { return b }
        guard let bytes = config.budgetBytes, let task = member.task else { return nil }
        return Double(bytes) / 4 / backbone(task)
    }

    /// Steps between two raises of lambda by the budget controller: the penalty phase's length over 64 (at least 1),
    /// so any run can raise lambda 64 times, by 1.25^64 ≈ 10^6 in all, before its settle. A fixed interval of 10
    /// steps gave a 4-epoch EfficientNet-Lite0 run (32 penalty steps) three raises: lambda 2 -> 3.9, nothing turned
    /// off, and the settle had to drop 38 of 46 layers at once.
    var budgetRaiseInterval: Int {
        let penaltyEpochs = min(settleStart, adapter.epochs + 1) - (config.warmupEpochs + 1)
        return max(1, penaltyEpochs * adapter.stepsPerEpoch / 64)
    }

    /// Whether this step boundary is one where the budget controller acts: every ``budgetRaiseInterval`` steps of the
    /// penalty phase of a budget run.
    private var isBudgetCheckpoint: Bool {
        config.hasBudget && adapter.usesPenalty && epoch > config.warmupEpochs && epoch < settleStart
            && step > 0 && step % budgetRaiseInterval == 0
    }

    /// Whether some member's active deltas cost more than its budget.
    private var isOverBudget: Bool { members.contains { m in budgetShare(m).map { deltaCost(m) > $0 } ?? false } }

    /// At a budget check while a member's active deltas cost more than the budget, the raised lambda: 1.25x (the
    /// step of the dashboard's `]` key, so the lambda history stays readable); nil otherwise. Used where the control
    /// box is read (a plain run; rank 0 of a data-parallel run, which broadcasts lambda).
    func budgetRaise() -> Double? {
        guard isBudgetCheckpoint, isOverBudget else { return nil }
        return min(max(lambda, 1e-3) * TrainingControl.lambdaStep, TrainingControl.maximumLambda)
    }

    /// At a budget check where every member fits, pins off the layers that are off then and would not fit beside
    /// the set still on (``pinForBudget(_:)``), and sets lambda back to `--lambda` (unless it is lower); a later fit
    /// pins again when the controller had to raise lambda again or a new layer no longer fits. The raises overshoot (a layer
    /// turns off some steps after the raise that decides it), and at the overshot lambda the layers still on chatter
    /// at tau and their deltas train only while on (fashion, `--budget 20%`, seed 0: lambda 14.9, `conv_layers.3`
    /// flipping for five epochs). Runs on every rank before the control box is read: the decision depends only on
    /// the scores and lambda, which all ranks share, so every rank freezes the same parameters (the gradient
    /// all-reduce needs that) and takes the same lambda. The reset is part of the pinned state: a checkpoint written
    /// at this boundary (a stop request, a failed metrics write) holds the pin with the reset lambda, which a resumed
    /// run (whose pin is already set) would otherwise never apply.
    func pinIfBudgetMet() {
        guard isBudgetCheckpoint, !isOverBudget else { return }
        // Pin only the layers off now that would not fit beside the set still on: a layer the budget can afford may
        // be off only for a moment (the small convolutions chatter at tau right after warm-up; ucidigits seed 19 met
        // the budget 4 steps into the penalty phase with every gate off, and pinning all four cost 3 points).
        let next: [[String]] = members.map { m in
            guard let budget = budgetShare(m) else { return [] }
            let on = m.gatedLayers.map(\.isActive)
            // Each layer alone beside the set on: the order does not matter.
            return on.indices.filter { !on[$0] && !fits(m, on, adding: $0, within: budget) }
                .map { m.gatedLayers[$0].name }
        }
        let first = budgetPinned.isEmpty
        let old = first ? members.map { _ in [String]() } : budgetPinned
        let merged = zip(old, next).map { Array(Set($0).union($1)).sorted() }
        // A later fit acts only when the controller raised lambda again (a free layer came back over the budget) or
        // there is a new layer to pin.
        if !first && merged == old.map({ $0.sorted() }) && lambda <= config.lambda { return }
        let added = zip(merged, old).flatMap { new, was in new.filter { !was.contains($0) } }
        budgetPinned = merged
        for m in members.indices { pinForBudget(m) }
        let reset = min(lambda, config.lambda)
        if isWriter {
            notice(.info, "budget met at step \(step): " + (added.isEmpty ? "no layer to pin"
                : "\(added.count) layer(s) off stay off until the settle (\(added.joined(separator: ", ")))")
                + (reset < lambda ? "; lambda back to \(ProgressFormatter.fmt(reset)) for the layers still on" : ""),
                step: step + 1)
            // A lower lambda the user asked for at this boundary still applies (the control box is read next).
            control.lambda = min(control.lambda, config.lambda)
        }
        if reset < lambda { changeLambda(to: reset, source: .budget) }
    }

    /// Freezes member `m`'s layers named in ``budgetPinned`` below tau (score and delta stop training). The settle's
    /// fill may still take them back if they fit (their scores sit just below tau, so they are offered first); the
    /// pin ends there (``settleGates()`` clears ``budgetPinned``).
    func pinForBudget(_ m: Int) {
        guard m < budgetPinned.count else { return }
        let names = Set(budgetPinned[m])
        for g in members[m].gatedLayers where g.behaviour == .learned && names.contains(g.name) {
            g.score.value.storage[0] = min(g.score.value.storage[0], g.tau.nextDown)
            g.score.requiresGrad = false
            g.delta.requiresGrad = false
        }
    }

    // MARK: - Gates: flips and the settle phase

    /// Counts gate flips and, in the last penalty epoch, how many steps each active set was held.
    func trackGates(votes: Bool) {
        let late = Double(step) > 0.8 * Double(totalSteps)
        for (m, member) in members.enumerated() where !member.gatedLayers.isEmpty {
            let now = member.gatedLayers.map(\.isActive)
            for i in now.indices where now[i] != previousActive[m][i] {
                flips[m][i] += 1
                if late { lateFlips += 1 }
            }
            previousActive[m] = now
            if votes { setVotes[m][String(now.map { $0 ? "1" : "0" }), default: 0] += 1 }
        }
    }

    func recordCandidates() {
        if candidateSets.count != members.count { candidateSets = members.map { _ in [] } }
        for (m, member) in members.enumerated() where !member.gatedLayers.isEmpty {
            candidateSets[m].append((activeKey(m), validation[m]))
        }
    }

    /// The set a budget run settles on (docs/method.md "Storage budget"): the voted set if it fits; otherwise the
    /// most accurate set seen at a penalty epoch's end that fits (ties: the later); otherwise the voted set with its lowest-scoring
    /// layers dropped until it fits. Then every layer left out is offered back, highest score first, and kept if the
    /// set still fits: the budget is storage the user granted, and a delta that fits buys accuracy (EfficientNet-Lite0
    /// on ucidigits at `--budget 25%` settled on 2/49 layers, 3% of the backbone, and ended below the probe).
    private func fitBudget(_ chosen: String, member m: Int) -> String {
        let member = members[m]
        guard let budget = budgetShare(member) else { return chosen }
        func cost(_ set: String) -> Double { deltaCost(member, active: set.map { $0 == "1" }) }
        var base = chosen
        if cost(chosen) > budget {
            let fitting = (m < candidateSets.count ? candidateSets[m] : []).filter { cost($0.set) <= budget }
            // Ties go to the later set, as model selection takes them (nearer the end of the search).
            let top = fitting.map(\.accuracy).max()
            if let best = fitting.last(where: { $0.accuracy == top }) {
                base = best.set
            } else {
                var on = chosen.map { $0 == "1" }
                for i in layersByScore(member) where on[i] && deltaCost(member, active: on) > budget { on[i] = false }
                base = String(on.map { $0 ? "1" : "0" })
            }
        }
        var on = base.map { $0 == "1" }
        for i in layersByScore(member).reversed() where !on[i] && fits(member, on, adding: i, within: budget) {
            on[i] = true
        }
        return String(on.map { $0 ? "1" : "0" })
    }

    /// Whether the set `on` (one flag per gated layer of `member`) with layer `i` switched on as well costs at most
    /// `budget` (a share of the backbone): the question both the pin (``pinIfBudgetMet()``, each layer alone) and the
    /// settle's fill (``fitBudget(_:member:)``, greedily) ask.
    private func fits(_ member: RunMember, _ on: [Bool], adding i: Int, within budget: Double) -> Bool {
        var with = on
        with[i] = true
        return deltaCost(member, active: with) <= budget
    }

    /// Indices of a member's gated layers by ascending score (ties: the larger delta first, so that a fill taking
    /// them from the end offers the smaller one first). Scores the proximal step left at exactly 0 carry no ranking;
    /// offering the larger delta first was measured worse (EfficientNet-Lite0, ucidigits, `--budget 25%`, seed 0:
    /// 0.935 with 36/49 layers against 0.960 with 38/49).
    private func layersByScore(_ member: RunMember) -> [Int] {
        let layers = member.gatedLayers
        return layers.indices.sorted { a, b in
            let (sa, sb) = (layers[a].score.value.storage[0], layers[b].score.value.storage[0])
            return sa != sb ? sa < sb : layers[a].weightCount != layers[b].weightCount
                ? layers[a].weightCount > layers[b].weightCount : a > b
        }
    }

    /// Starts the settle phase: each member's active set becomes the one held for the most steps of the last
    /// penalty epoch (ties: the set at its end; with a budget, the most accurate set that fits), scores are moved
    /// to their side of tau and frozen. The budget pin ends here: the settled set decides, including the pinned
    /// layers the fill took back, and a checkpoint of the settle does not pin them off again on resume.
    func settleGates() {
        budgetPinned = []
        for (m, member) in members.enumerated() where !member.gatedLayers.isEmpty {
            let current = activeKey(m)
            let total = setVotes[m].values.reduce(0, +)
            let voted = setVotes[m].max { a, b in a.value != b.value ? a.value < b.value : b.key == current }?.key ?? current
            let chosen = fitBudget(voted, member: m)
            setGates(m, to: chosen)
            previousActive[m] = member.gatedLayers.map(\.isActive)
            let names = member.gatedLayers.filter(\.isActive).map(\.name)
            // The epoch the votes come from is a warm-up epoch when --settle-epochs left no penalty epoch.
            let votedIn = settleStart - 1 > config.warmupEpochs ? "the last penalty epoch" : "the last warm-up epoch (no penalty epoch ran)"
            let layerNames = member.gatedLayers.map(\.name)
            func differing(_ a: String, _ b: String) -> [String] {
                zip(layerNames, zip(a, b)).filter { $0.1.0 == "1" && $0.1.1 == "0" }.map(\.0)
            }
            let added = differing(chosen, voted), dropped = differing(voted, chosen)
            let change = (added.isEmpty ? [] : ["added " + added.joined(separator: ", ")])
                + (dropped.isEmpty ? [] : ["dropped " + dropped.joined(separator: ", ")])
            notice(.settled, "gates settled for the last \(config.effectiveSettleEpochs) epoch(s): \(names.count)/\(member.gatedLayers.count) active"
                + (names.isEmpty ? "" : " (" + names.joined(separator: ", ") + ")")
                + (chosen != voted ? String(format: ", %.1f%% of the backbone within the %.1f%% budget",
                                            100 * deltaCost(member), 100 * (budgetShare(member) ?? 0))
                                     + " (" + change.joined(separator: "; ") + " against the set held longest in \(votedIn))"
                   : total > 0 ? ", the set held for \(setVotes[m][chosen] ?? 0) of the \(total) steps of \(votedIn)" : "")
                + "; from now on only the kept deltas, norms and head train, and model selection picks among these epochs",
                views: [member.view])
        }
        freezeGates()
    }

    /// Moves member `m`'s scores to the side of tau that `key` (`1`/`0` per gated layer) asks for: up to tau for a
    /// layer on, just below it for a layer off (scores already on that side stay).
    func setGates(_ m: Int, to key: String) {
        for (g, on) in zip(members[m].gatedLayers, key) {
            let s = g.score.value.storage[0]
            g.score.value.storage[0] = on == "1" ? max(s, g.tau) : min(s, g.tau.nextDown)
        }
    }

    /// Every dropout layer's generator state, per member (checkpoints, a path's start, evaluations inside a path set).
    var dropoutStates: [[[UInt64]]] { members.map { dropoutLayers(in: $0.network).map(\.generatorState) } }

    /// Puts back generator states taken by ``dropoutStates``.
    func restoreDropout(_ states: [[[UInt64]]]) {
        for (member, layers) in zip(members, states) {
            for (d, state) in zip(dropoutLayers(in: member.network), layers) { d.generatorState = state }
        }
    }

    /// Fixes every gate at its current side of tau: scores stop training, deltas of inactive layers too (their
    /// weight-gradient GEMMs are skipped).
    func freezeGates() {
        for member in members {
            for g in member.gatedLayers where g.behaviour == .learned {
                g.score.requiresGrad = false
                g.delta.requiresGrad = g.isActive
            }
        }
    }
}
