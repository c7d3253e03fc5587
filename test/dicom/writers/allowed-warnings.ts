// dciodvfy warnings that are expected on our objects, each with the reason it stays.
//
// 1. "Attribute is not present in standard DICOM IOD - (0x0018,0x1002) UI Device UID": the IHE AIR
//    Contributing Equipment entry carries the algorithm's Device UID; the dicom3tools build in Debian
//    (1.00~20220618) predates Device UID inside Contributing Equipment Sequence, so it reports it as
//    an extension.
// 2. "Dicom dataset contains attributes not present in standard DICOM IOD - this is a Standard
//    Extended SOP Class": the summary line that follows warning 1.
// 3. "Value is zero for value 1 of attribute <Patient's Weight>": a source that recorded the weight as 0
//    (scanners write 0 for "not entered"); the study's attributes are copied unchanged, so every
//    instance of the study says the same (dcentvfy checks that), and ours says what the source said.
// 4. (SC only) "is only permitted to be empty when actually unknown ... <Laterality>": Laterality is
//    Type 2C; for a generated image whose source has no laterality it is unknown, hence empty.
export const ALLOWED_WARNINGS: readonly RegExp[] = [
  /^Warning - Attribute is not present in standard DICOM IOD - \(0x0018,0x1002\) UI Device UID\s*$/,
  /^Warning - Dicom dataset contains attributes not present in standard DICOM IOD - this is a Standard Extended SOP Class$/,
  /^Warning - Value is zero for value 1 of attribute <Patient's Weight>$/,
];

export const ALLOWED_SC_WARNINGS: readonly RegExp[] = [
  ...ALLOWED_WARNINGS,
  /^Warning - is only permitted to be empty when actually unknown; .* attribute <Laterality>$/,
];

export function unexpectedWarnings(warnings: readonly string[], allowed: readonly RegExp[] = ALLOWED_WARNINGS): string[] {
  return warnings.filter((warning) => !allowed.some((pattern) => pattern.test(warning)));
}

// dcentvfy warnings expected over a source study plus our results, each with the reason it stays.
//
// 1. "Different information entities for attribute - Element=<AccessionNumber> IE <Series> versus
//    <Study>" between an image (CT, MR, SEG, SC) and an SR: dcentvfy assigns each attribute the IE of the
//    first module of the IOD where it meets it. In image IODs that is the General Series module's Request
//    Attributes Sequence macro (so "Series"); the Enhanced SR IOD has no such macro, so there it is the
//    General Study module ("Study"). The value is the same top-level General Study attribute in every
//    file (the test checks that), so this is dcentvfy's per-IOD model, not a placement we could change.
export const ALLOWED_DCENTVFY_WARNINGS: readonly RegExp[] = [
  /^Warning - Different information entities for attribute - Element=<AccessionNumber> IE <(Series|Study)> versus <(Series|Study)> for file <[^>]+> versus <[^>]+>$/,
];
