/**
 * A small XML reader for UPnP descriptions and SOAP answers, in linear time.
 *
 * A router's body is untrusted: the regular expressions this replaces backtracked over
 * unclosed tags (1.1-2.8 s of event loop on a 256 KiB body). Here every character is looked
 * at a bounded number of times: each scan starts where the previous one ended, and an
 * unclosed construct ends the document instead of being retried from the next character.
 * Only what UPnP needs: elements (namespace prefixes dropped), text, CDATA, the five named
 * entities and numeric character references; comments, processing instructions and
 * DOCTYPE are skipped (no entity definitions are honoured, so nothing expands).
 *
 * @see UPnP Device Architecture 1.1 §2.3 (description), §3.2 (SOAP)
 */
import { UPNP_MAX_BODY_BYTES, UPNP_MAX_XML_DEPTH } from './constants.js'
import { MalformedResponseError } from './errors.js'

export interface XmlElement {
  /** local name (prefix dropped), as written */
  name: string
  children: XmlElement[]
  /** the element's own text (children's text not included), entities decoded, trimmed */
  text: string
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }

function decodeEntities (s: string): string {
  if (!s.includes('&')) return s
  return s.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|lt|gt|amp|quot|apos);/g, (all, ref: string) => {
    if (ref.startsWith('#')) {
      const code = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10)
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : all
    }
    return ENTITIES[ref] ?? all
  })
}

/** The local part of a tag name: `s:Envelope` → `Envelope`. */
function localName (qname: string): string {
  const i = qname.indexOf(':')
  return i >= 0 ? qname.slice(i + 1) : qname
}

const NAME_END = /[\s/>]/

/**
 * Parses `xml` into a tree under a nameless root. Throws MalformedResponseError for a body
 * over `maxBytes` characters or nested deeper than UPNP_MAX_XML_DEPTH; anything else that is
 * not well-formed is read as far as it makes sense (routers are sloppy), never retried.
 */
export function parseXml (xml: string, maxBytes = UPNP_MAX_BODY_BYTES): XmlElement {
  if (xml.length > maxBytes) throw new MalformedResponseError(`XML body of ${xml.length} bytes is over the ${maxBytes}-byte cap`)
  const root: XmlElement = { name: '', children: [], text: '' }
  const stack: XmlElement[] = [root]
  const texts: string[][] = [[]]
  const close = (): void => {
    const el = stack.pop()
    const t = texts.pop()
    if (el != null && t != null) el.text = decodeEntities(t.join('').trim())
  }
  let i = 0
  const n = xml.length
  while (i < n) {
    const lt = xml.indexOf('<', i)
    const textEnd = lt < 0 ? n : lt
    if (textEnd > i) texts[texts.length - 1]?.push(xml.slice(i, textEnd))
    if (lt < 0) break
    if (xml.startsWith('<!--', lt)) {
      const end = xml.indexOf('-->', lt + 4)
      if (end < 0) break
      i = end + 3
    } else if (xml.startsWith('<![CDATA[', lt)) {
      const end = xml.indexOf(']]>', lt + 9)
      if (end < 0) break
      // CDATA is literal: escape what decodeEntities would otherwise turn into markup
      texts[texts.length - 1]?.push(xml.slice(lt + 9, end).replace(/&/g, '&amp;'))
      i = end + 3
    } else if (xml.startsWith('<?', lt)) {
      const end = xml.indexOf('?>', lt + 2)
      if (end < 0) break
      i = end + 2
    } else if (xml.startsWith('<!', lt)) {
      // DOCTYPE and friends: skipped whole; an internal subset's entities are not honoured
      const end = xml.indexOf('>', lt + 2)
      if (end < 0) break
      i = end + 1
    } else if (xml[lt + 1] === '/') {
      const end = xml.indexOf('>', lt + 2)
      if (end < 0) break
      const name = localName(xml.slice(lt + 2, end).trim())
      // close up to the matching open element; a stray end tag closes nothing
      let k = stack.length - 1
      while (k > 0 && stack[k]?.name !== name) k--
      if (k > 0) while (stack.length > k) close()
      i = end + 1
    } else {
      // a start tag: find its '>' outside quoted attribute values, one pass
      let j = lt + 1
      let quote = ''
      for (; j < n; j++) {
        const c = xml[j]
        if (quote !== '') { if (c === quote) quote = '' } else if (c === '"' || c === "'") quote = c; else if (c === '>') break
      }
      if (j >= n) break
      const inner = xml.slice(lt + 1, j)
      const m = NAME_END.exec(inner)
      const qname = m == null ? inner : inner.slice(0, m.index)
      if (qname === '') { i = j + 1; continue }
      const el: XmlElement = { name: localName(qname), children: [], text: '' }
      stack[stack.length - 1]?.children.push(el)
      if (!inner.endsWith('/')) {
        if (stack.length > UPNP_MAX_XML_DEPTH) throw new MalformedResponseError(`XML nested deeper than ${UPNP_MAX_XML_DEPTH} elements`)
        stack.push(el)
        texts.push([])
      }
      i = j + 1
    }
  }
  while (stack.length > 1) close()
  root.text = decodeEntities((texts[0] ?? []).join('').trim())
  return root
}

/** Every element named `name` (case-insensitive, any prefix) below `el`, in document order. */
export function findAll (el: XmlElement, name: string): XmlElement[] {
  const want = name.toLowerCase()
  const out: XmlElement[] = []
  // iterative depth-first walk: no recursion on hostile depth (which parseXml caps anyway)
  const todo: XmlElement[] = [...el.children].reverse()
  while (todo.length > 0) {
    const e = todo.pop()
    if (e == null) break
    if (e.name.toLowerCase() === want) out.push(e)
    for (let k = e.children.length - 1; k >= 0; k--) {
      const child = e.children[k]
      if (child != null) todo.push(child)
    }
  }
  return out
}

/** The text of `el`'s first child (not any descendant) named `name`, or undefined. */
export function childText (el: XmlElement, name: string): string | undefined {
  const want = name.toLowerCase()
  return el.children.find(c => c.name.toLowerCase() === want)?.text
}

/** The first element named `name` below `el`, or undefined. */
export function findFirst (el: XmlElement, name: string): XmlElement | undefined {
  return findAll(el, name)[0]
}

/** The text of the first element named `name` below `el`, or undefined when there is none. */
export function textOf (el: XmlElement, name: string): string | undefined {
  return findFirst(el, name)?.text
}
