import { describe, expect, it } from 'vitest';
import { defaultSmartScopes, grantedInteractions, missingScopes, SERVICE_INTERACTIONS } from '../../src/fhir/fhir-interactions.ts';

describe('the table of FHIR interactions and the SMART scopes derived from it', () => {
  it('default scopes are SMART v2 system scopes, one per resource type the service touches', () => {
    expect(defaultSmartScopes()).toEqual([
      'system/ImagingStudy.rs', 'system/Endpoint.r', 'system/Task.cus', 'system/DiagnosticReport.cruds', 'system/Observation.cruds',
      'system/Media.cruds', 'system/Provenance.cruds', 'system/Device.cs', 'system/StructureDefinition.rs',
    ]);
    expect(defaultSmartScopes({ installProfiles: true })).toContain('system/StructureDefinition.crs');
    expect(Object.keys(SERVICE_INTERACTIONS)).toContain('Media');
  });

  it('the default scopes grant everything the table needs; a cut set names what is missing', () => {
    expect(missingScopes(defaultSmartScopes())).toEqual([]);
    const withoutMedia = defaultSmartScopes().filter((s) => !s.startsWith('system/Media.'));
    expect(missingScopes(withoutMedia)).toEqual(['system/Media.cruds']);
    // The old default: no Media, no StructureDefinition read (Medplum then refuses every profiled write).
    const old = ['system/ImagingStudy.rs', 'system/Endpoint.rs', 'system/Task.cru', 'system/DiagnosticReport.cru', 'system/Observation.cru', 'system/Device.cru', 'system/Provenance.cru'];
    expect(missingScopes(old)).toEqual([
      'system/Task.s', 'system/DiagnosticReport.ds', 'system/Observation.ds', 'system/Media.cruds', 'system/Provenance.ds', 'system/Device.s', 'system/StructureDefinition.rs',
    ]);
    expect(missingScopes(defaultSmartScopes(), { installProfiles: true })).toEqual(['system/StructureDefinition.c']);
    // Audit delivery to the FHIR server (AUDIT_SINK=fhir) needs AuditEvent create, and nothing else.
    expect(missingScopes(defaultSmartScopes(), { audit: true })).toEqual(['system/AuditEvent.c']);
    expect(missingScopes(defaultSmartScopes({ audit: true }), { audit: true })).toEqual([]);
  });

  it('reads SMART v1 and wildcard scopes too, and ignores user/ and patient/ scopes', () => {
    expect(missingScopes(['system/*.read', 'system/*.write'])).toEqual([]);
    expect(missingScopes(['system/*.cruds'])).toEqual([]);
    const allows = grantedInteractions(['system/Task.read', 'user/DiagnosticReport.cruds', 'system/Observation.*']);
    expect(allows('Task', 'search')).toBe(true);
    expect(allows('Task', 'create')).toBe(false);
    expect(allows('DiagnosticReport', 'create')).toBe(false);
    expect(allows('Observation', 'delete')).toBe(true);
  });
});
