// dciodvfy warnings that are expected on our objects, each with the reason it stays.
//
// 1. "Attribute is not present in standard DICOM IOD - (0x0018,0x1002) UI Device UID": the IHE AIR
//    Contributing Equipment entry carries the algorithm's Device UID; the dicom3tools build in Debian
//    (1.00~20220618) predates Device UID inside Contributing Equipment Sequence, so it reports it as
//    an extension.
// 2. "Dicom dataset contains attributes not present in standard DICOM IOD - this is a Standard
//    Extended SOP Class": the summary line that follows warning 1.
// 3. (SC only) "is only permitted to be empty when actually unknown ... <Laterality>": Laterality is
//    Type 2C; for a generated image whose source has no laterality it is unknown, hence empty.
export const ALLOWED_WARNINGS: readonly RegExp[] = [
  /^Warning - Attribute is not present in standard DICOM IOD - \(0x0018,0x1002\) UI Device UID\s*$/,
  /^Warning - Dicom dataset contains attributes not present in standard DICOM IOD - this is a Standard Extended SOP Class$/,
];

export const ALLOWED_SC_WARNINGS: readonly RegExp[] = [
  ...ALLOWED_WARNINGS,
  /^Warning - is only permitted to be empty when actually unknown; .* attribute <Laterality>$/,
];

export function unexpectedWarnings(warnings: readonly string[], allowed: readonly RegExp[] = ALLOWED_WARNINGS): string[] {
  return warnings.filter((warning) => !allowed.some((pattern) => pattern.test(warning)));
}
