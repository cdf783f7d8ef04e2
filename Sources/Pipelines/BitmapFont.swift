/// A 5×8 bitmap font for figure labels (ASCII plus ± − ≤ · Δ ₀), drawn by `Canvas.text`: a few
/// labels do not justify a font-rendering dependency.
///
/// Each glyph packs its 8 rows of 5 pixels, top row first, most significant bit leftmost, into
/// 40 bits; row 7 is the descender. A character without a glyph is drawn as `?`.
enum BitmapFont {
    static let glyphWidth = 5, glyphHeight = 8, advance = 6

    /// The width in pixels of `text` at `scale` (no trailing gap).
    static func width(of text: String, scale: Int = 1) -> Int {
        text.isEmpty ? 0 : (text.count * advance - 1) * scale
    }

    /// Whether pixel (`column`, `row`) of `character`'s glyph is ink.
    static func isInk(_ character: Character, column: Int, row: Int) -> Bool {
        let bits = glyphs[character] ?? glyphs["?"]!
        return (bits >> UInt64((glyphHeight - 1 - row) * glyphWidth + (glyphWidth - 1 - column))) & 1 == 1
    }

    static let glyphs: [Character: UInt64] = [
        " ": 0x0000000000, "0": 0x74675CC5C0, "1": 0x23084211C0, "2": 0x74422223E0, "3": 0xF042E087C0,
        "4": 0x11952F8840, "5": 0xFC3C10C5C0, "6": 0x3221E8C5C0, "7": 0xF844442100, "8": 0x7462E8C5C0,
        "9": 0x7462F08980, "A": 0x7463F8C620, "B": 0xF463E8C7C0, "C": 0x74610845C0, "D": 0xE4A318CB80,
        "E": 0xFC21E843E0, "F": 0xFC21E84200, "G": 0x746178C5E0, "H": 0x8C63F8C620, "I": 0x71084211C0,
        "J": 0x3884214980, "K": 0x8CA98A4A20, "L": 0x84210843E0, "M": 0x8EEB58C620, "N": 0x8C7359C620,
        "O": 0x746318C5C0, "P": 0xF463E84200, "Q": 0x74631AC9A0, "R": 0xF463EA4A20, "S": 0x7C20E087C0,
        "T": 0xF908421080, "U": 0x8C6318C5C0, "V": 0x8C6318A880, "W": 0x8C635AD540, "X": 0x8C54454620,
        "Y": 0x8C54421080, "Z": 0xF8444443E0, "a": 0x001C17C5E0, "b": 0x842D98C7C0, "c": 0x001D0845C0,
        "d": 0x085B38C5E0, "e": 0x001D1FC1C0, "f": 0x3251C42100, "g": 0x001F18BC2E, "h": 0x842D98C620,
        "i": 0x20184211C0, "j": 0x100C210A4C, "k": 0x84254C5240, "l": 0x61084211C0, "m": 0x00355AC620,
        "n": 0x002D98C620, "o": 0x001D18C5C0, "p": 0x003D18FA10, "q": 0x001F18BC21, "r": 0x002D984200,
        "s": 0x001F0707C0, "t": 0x42388424C0, "u": 0x002318CDA0, "v": 0x002318A880, "w": 0x00231AD540,
        "x": 0x0022A22A20, "y": 0x002318BC2E, "z": 0x003E2223E0, ".": 0x0000003180, ",": 0x0000063088,
        "-": 0x0001F00000, "+": 0x0109F21000, "=": 0x003E0F8000, "(": 0x1110841040, ")": 0x4104211100,
        "[": 0x72108421C0, "]": 0x70842109C0, "/": 0x0044444000, ":": 0x0318063000, "_": 0x00000003E0,
        "%": 0xC644444C60, "'": 0x2110000000, "|": 0x2108421080, "<": 0x1111041040, ">": 0x4104111100,
        "*": 0x012AEA9000, "?": 0x7442220080, "#": 0x52BEAFA940, "~": 0x0011510000, "^": 0x22A2000000,
        "±": 0x213E4203E0, "−": 0x0001F00000, "≤": 0x11104103E0, "₀": 0x0000045288, "Δ": 0x0114A8C7E0,
        "·": 0x0000C60000
    ]
}
