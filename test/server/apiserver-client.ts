import https from 'node:https';
import tls from 'node:tls';
import { apply_patch } from 'jsonpatch';
import type { AdmissionReviewRequest, AdmissionReviewResponse, KubeObject } from '../../src/kube/types.js';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * Behaves like kube-apiserver calling a webhook: verifies the serving certificate for `<service>.<namespace>.svc`
 * against the caBundle, posts an AdmissionReview v1, checks the uid, and decodes and applies any JSON Patch.
 */
export class ApiServerClient {
  private readonly agent: https.Agent;
  constructor(
    private readonly port: number,
    caPem: string,
    private readonly serverName = 'aigw-admission.aigw-admission.svc',
  ) {
    this.agent = new https.Agent({ ca: caPem, keepAlive: true, maxSockets: 4 });
  }

  raw(method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port: this.port,
          method,
          path,
          agent: this.agent,
          servername: this.serverName,
          checkServerIdentity: (_host, cert) => tls.checkServerIdentity(this.serverName, cert),
          headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  async admit(path: '/validate' | '/mutate', input: AdmissionReviewRequest): Promise<{ review: AdmissionReviewResponse; patched?: KubeObject }> {
    const res = await this.raw('POST', `${path}?timeout=5s`, JSON.stringify(input));
    if (res.status !== 200) throw new Error(`webhook answered HTTP ${res.status}: ${res.body}`);
    const review = JSON.parse(res.body) as AdmissionReviewResponse;
    if (review.apiVersion !== 'admission.k8s.io/v1' || review.kind !== 'AdmissionReview') throw new Error(`not an AdmissionReview: ${res.body}`);
    if (review.response.uid !== input.request.uid) throw new Error(`uid ${review.response.uid} does not echo ${input.request.uid}`);
    if (review.response.patch === undefined) return { review };
    if (review.response.patchType !== 'JSONPatch') throw new Error(`patchType ${review.response.patchType}`);
    const ops = JSON.parse(Buffer.from(review.response.patch, 'base64').toString('utf8'));
    return { review, patched: apply_patch(structuredClone(input.request.object), ops) ?? undefined };
  }

  close(): void {
    this.agent.destroy();
  }
}
