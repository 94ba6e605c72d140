/** `file://` URL → path, via node:url (the std/path helper is not reachable here). */
import { fileURLToPath } from "node:url";

export function fromFileUrl(url: string): string {
  return fileURLToPath(url);
}
