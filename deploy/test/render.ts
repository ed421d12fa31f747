import { execFileSync } from "node:child_process"
import { join } from "node:path"
import { parseAllDocuments } from "yaml"
import { ConfigMap } from "kubernetes-models/v1/ConfigMap"
import { Namespace } from "kubernetes-models/v1/Namespace"
import { Secret } from "kubernetes-models/v1/Secret"
import { Service } from "kubernetes-models/v1/Service"
import { Deployment } from "kubernetes-models/apps/v1/Deployment"
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet"
import { Job } from "kubernetes-models/batch/v1/Job"
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler"
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget"
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy"
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject"

export const deployDir = join(import.meta.dirname, "..")

/** A rendered object, loosely typed: tests read fields by path and the schemas check the shape. */
export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; [k: string]: any }

/**
 * `kubectl kustomize` (kustomize v5 built into kubectl) renders an overlay exactly as
 * `kubectl apply -k` would. kubectl ships on these machines; there is no cluster to talk to.
 */
export const renderOverlay = (overlay: string): ReadonlyArray<K8sObject> => {
  let out: string
  try {
    out = execFileSync("kubectl", ["kustomize", join(deployDir, "overlays", overlay)], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
  } catch (e) {
    const err = e as { code?: string; stderr?: string; message: string }
    throw new Error(
      err.code === "ENOENT"
        ? "kubectl is not on PATH: it renders the kustomize overlays (install kubectl, which embeds kustomize)"
        : `kubectl kustomize overlays/${overlay} failed: ${err.stderr ?? err.message}`
    )
  }
  return parseAllDocuments(out).map((d) => {
    if (d.errors.length > 0) throw new Error(`overlay ${overlay}: ${d.errors.map((x) => x.message).join("; ")}`)
    return d.toJS() as K8sObject
  })
}

/** Kubernetes' OpenAPI schemas (and KEDA's CRD schema) as compiled validators, by apiVersion/kind. */
const models: Record<string, new (data: any) => { validate(): void }> = {
  "v1/Namespace": Namespace,
  "v1/ConfigMap": ConfigMap,
  "v1/Secret": Secret,
  "v1/Service": Service,
  "apps/v1/Deployment": Deployment,
  "apps/v1/StatefulSet": StatefulSet,
  "batch/v1/Job": Job,
  "autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
  "keda.sh/v1alpha1/ScaledObject": ScaledObject
}

/** Throws with the object's kind/name and the schema's message; an unknown kind is an error too. */
export const validateAgainstSchema = (o: K8sObject): void => {
  const Model = models[`${o.apiVersion}/${o.kind}`]
  if (Model === undefined) throw new Error(`no schema for ${o.apiVersion}/${o.kind} (${o.metadata.name}): add it to deploy/test/render.ts`)
  try {
    new Model(o).validate()
  } catch (e) {
    throw new Error(`${o.kind}/${o.metadata.name}: ${(e as Error).message}`)
  }
}

export const podSpec = (o: K8sObject): any => o.spec?.template?.spec
export const workloads = (objects: ReadonlyArray<K8sObject>) => objects.filter((o) => podSpec(o) !== undefined)
export const byKind = (objects: ReadonlyArray<K8sObject>, kind: string) => objects.filter((o) => o.kind === kind)
export const named = (objects: ReadonlyArray<K8sObject>, kind: string, name: string): K8sObject => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name)
  if (found === undefined) throw new Error(`no ${kind}/${name} in the rendered overlay`)
  return found
}
