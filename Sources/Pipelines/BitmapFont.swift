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
        " ": 0x00_0000_0000, "0": 0x74_675C_C5C0, "1": 0x23_0842_11C0, "2": 0x74_4222_23E0, "3": 0xF0_42E0_87C0,
        "4": 0x11_952F_8840, "5": 0xFC_3C10_C5C0, "6": 0x32_21E8_C5C0, "7": 0xF8_4444_2100, "8": 0x74_62E8_C5C0,
        "9": 0x74_62F0_8980, "A": 0x74_63F8_C620, "B": 0xF4_63E8_C7C0, "C": 0x74_6108_45C0, "D": 0xE4_A318_CB80,
        "E": 0xFC_21E8_43E0, "F": 0xFC_21E8_4200, "G": 0x74_6178_C5E0, "H": 0x8C_63F8_C620, "I": 0x71_0842_11C0,
        "J": 0x38_8421_4980, "K": 0x8C_A98A_4A20, "L": 0x84_2108_43E0, "M": 0x8E_EB58_C620, "N": 0x8C_7359_C620,
        "O": 0x74_6318_C5C0, "P": 0xF4_63E8_4200, "Q": 0x74_631A_C9A0, "R": 0xF4_63EA_4A20, "S": 0x7C_20E0_87C0,
        "T": 0xF9_0842_1080, "U": 0x8C_6318_C5C0, "V": 0x8C_6318_A880, "W": 0x8C_635A_D540, "X": 0x8C_5445_4620,
        "Y": 0x8C_5442_1080, "Z": 0xF8_4444_43E0, "a": 0x00_1C17_C5E0, "b": 0x84_2D98_C7C0, "c": 0x00_1D08_45C0,
        "d": 0x08_5B38_C5E0, "e": 0x00_1D1F_C1C0, "f": 0x32_51C4_2100, "g": 0x00_1F18_BC2E, "h": 0x84_2D98_C620,
        "i": 0x20_1842_11C0, "j": 0x10_0C21_0A4C, "k": 0x84_254C_5240, "l": 0x61_0842_11C0, "m": 0x00_355A_C620,
        "n": 0x00_2D98_C620, "o": 0x00_1D18_C5C0, "p": 0x00_3D18_FA10, "q": 0x00_1F18_BC21, "r": 0x00_2D98_4200,
        "s": 0x00_1F07_07C0, "t": 0x42_3884_24C0, "u": 0x00_2318_CDA0, "v": 0x00_2318_A880, "w": 0x00_231A_D540,
        "x": 0x00_22A2_2A20, "y": 0x00_2318_BC2E, "z": 0x00_3E22_23E0, ".": 0x00_0000_3180, ",": 0x00_0006_3088,
        "-": 0x00_01F0_0000, "+": 0x01_09F2_1000, "=": 0x00_3E0F_8000, "(": 0x11_1084_1040, ")": 0x41_0421_1100,
        "[": 0x72_1084_21C0, "]": 0x70_8421_09C0, "/": 0x00_4444_4000, ":": 0x03_1806_3000, "_": 0x00_0000_03E0,
        "%": 0xC6_4444_4C60, "'": 0x21_1000_0000, "|": 0x21_0842_1080, "<": 0x11_1104_1040, ">": 0x41_0411_1100,
        "*": 0x01_2AEA_9000, "?": 0x74_4222_0080, "#": 0x52_BEAF_A940, "~": 0x00_1151_0000, "^": 0x22_A200_0000,
        "±": 0x21_3E42_03E0, "−": 0x00_01F0_0000, "≤": 0x11_1041_03E0, "₀": 0x00_0004_5288, "Δ": 0x01_14A8_C7E0,
        "·": 0x00_00C6_0000,
    ]
}
