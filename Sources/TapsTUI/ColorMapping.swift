// TapsTUI: theme colours (24-bit) mapped to what the terminal can show, as btop does for 256-colour terminals.

/// How many colours the terminal can show.
public enum ColorDepth: Sendable, Equatable {
    /// No colour (NO_COLOR, `--color never`, terminals without colours): attributes only.
    case none
    /// The 8 ANSI colours.
    case eight
    /// The xterm 256-colour palette.
    case palette256
}

/// Maps `#rrggbb` to terminal palette indices.
public enum ColorMapping {
    /// The six channel levels of the xterm 6x6x6 colour cube (indices 16...231).
    static let cubeLevels: [Int] = [0, 95, 135, 175, 215, 255]

    /// The RGB value of the 8 ANSI colours, as xterm draws them (black, red, green, yellow, blue, magenta, cyan, white).
    static let ansi8: [(Int, Int, Int)] = [
        (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205), (229, 229, 229),
    ]

    /// The nearest xterm-256 index: the nearer of the closest colour-cube entry (16...231) and the closest grey of the
    /// ramp (232...255, levels 8, 18, ..., 238).
    public static func to256(_ c: RGB) -> Int {
        func nearestLevel(_ v: UInt8) -> Int {
            var best = 0
            for i in 1..<cubeLevels.count where abs(cubeLevels[i] - Int(v)) < abs(cubeLevels[best] - Int(v)) { best = i }
            return best
        }
        let (r, g, b) = (nearestLevel(c.red), nearestLevel(c.green), nearestLevel(c.blue))
        let cube = 16 + 36 * r + 6 * g + b
        let cubeDistance = distance(c, (cubeLevels[r], cubeLevels[g], cubeLevels[b]))
        let mean = (Int(c.red) + Int(c.green) + Int(c.blue)) / 3
        let greyIndex = min(23, max(0, (mean - 8 + 5) / 10))
        let greyLevel = 8 + 10 * greyIndex
        let greyDistance = distance(c, (greyLevel, greyLevel, greyLevel))
        return greyDistance < cubeDistance ? 232 + greyIndex : cube
    }

    /// The nearest of the 8 ANSI colours (0 black ... 7 white).
    public static func to8(_ c: RGB) -> Int {
        var best = 0
        for i in 1..<ansi8.count where distance(c, ansi8[i]) < distance(c, ansi8[best]) { best = i }
        return best
    }

    /// The palette index for `color` at `depth`, or nil for the terminal default (and for depth `.none`).
    public static func index(_ color: TermColor, depth: ColorDepth) -> Int? {
        guard case .rgb(let c) = color else { return nil }
        switch depth {
        case .none: return nil
        case .eight: return to8(c)
        case .palette256: return to256(c)
        }
    }

    private static func distance(_ c: RGB, _ p: (Int, Int, Int)) -> Int {
        let dr = Int(c.red) - p.0, dg = Int(c.green) - p.1, db = Int(c.blue) - p.2
        return dr * dr + dg * dg + db * db
    }
}
