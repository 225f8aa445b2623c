// TapsData: seeded, stratified train/validation split (model selection never touches test).
import TapsTensor

/// Splits `data` into disjoint training and validation sets, stratified by class.
///
/// For each class `k` with `n_k` examples, `round(validationFraction * n_k)` of them (chosen by a
/// seeded shuffle) go to validation, the rest to training; when the fraction is positive and the class
/// has at least 2 examples, validation gets at least one. Both outputs keep the original example order.
/// The same `data`, fraction and seed always give the same split.
///
/// - Parameters:
///   - validationFraction: in `[0, 1)`.
///   - seed: seeds the shuffle (``SeededRNG``).
/// - Returns: `train` and `validation`; together they hold every example exactly once.
public func trainValidationSplit(_ data: LabeledImages, validationFraction: Double, seed: UInt64)
    -> (train: LabeledImages, validation: LabeledImages) {
    precondition(validationFraction >= 0 && validationFraction < 1,
                 "trainValidationSplit: validationFraction must be in [0, 1), got \(validationFraction)")
    var byClass = [[Int]](repeating: [], count: data.classes)
    for (i, y) in data.labels.enumerated() { byClass[y].append(i) }
    var rng = SeededRNG(seed: seed)
    var isValidation = [Bool](repeating: false, count: data.count)
    for members in byClass where !members.isEmpty {
        var take = Int((validationFraction * Double(members.count)).rounded())
        if validationFraction > 0, members.count >= 2 { take = max(take, 1) }
        take = min(take, members.count)
        let order = rng.permutation(members.count)
        for k in order.prefix(take) { isValidation[members[k]] = true }
    }
    let validation = (0..<data.count).filter { isValidation[$0] }
    let train = (0..<data.count).filter { !isValidation[$0] }
    return (data.subset(train), data.subset(validation))
}
