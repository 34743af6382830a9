//+------------------------------------------------------------------+
//| Inbox.mqh -- routing of server->EA envelopes: decode, drop what  |
//| was already processed (seq <= ack_seq) or already seen (id), and |
//| track the highest processed seq for ack_seq; CMessageBacklog     |
//| keeps routed messages in order until they are handled. Pure code.|
//+------------------------------------------------------------------+
#property strict

#ifndef COPYGATEWAY_INBOX_MQH
#define COPYGATEWAY_INBOX_MQH

#include <CopyGateway/MessageDecoders.mqh>

#define CG_RECENT_IDS 256

class CInbox
  {
private:
   long              m_ack_seq;       // highest seq processed
   string            m_recent[];      // ring of recently accepted envelope ids
   int               m_recent_next;   // next ring slot
   int               m_dropped;       // duplicates dropped so far

   bool              Seen(const string id) const
     {
      for(int i=0;i<ArraySize(m_recent);i++)
         if(m_recent[i]==id)
            return(true);
      return(false);
     }
   void              Remember(const string id)
     {
      if(ArraySize(m_recent)<CG_RECENT_IDS)
        {
         int n=ArraySize(m_recent);
         ArrayResize(m_recent,n+1,CG_RECENT_IDS);
         m_recent[n]=id;
         return;
        }
      m_recent[m_recent_next]=id;
      m_recent_next=(m_recent_next+1)%CG_RECENT_IDS;
     }

public:
                     CInbox(void) : m_ack_seq(0),m_recent_next(0),m_dropped(0) {}
   void              Init(const long ack_seq)
     {
      m_ack_seq=ack_seq;
      ArrayResize(m_recent,0);
      m_recent_next=0;
      m_dropped=0;
     }
   long              AckSeq(void) const { return(m_ack_seq); }
   int               Dropped(void) const { return(m_dropped); }

   //--- Decode one envelope (node `env`); append it to `out` unless it is a duplicate.
   //--- Invalid envelopes are returned too (kind CG_MSG_INVALID) so the caller can
   //--- report them and still acknowledge their seq.
   bool              RouteOne(const CJsonDoc &doc,const int env,SServerMessage &out[])
     {
      SServerMessage m;
      CgDecodeServerMessage(doc,env,m);
      if(m.seq>=0 && m.seq<=m_ack_seq)
        {
         m_dropped++;
         return(false);
        }
      if(m.id!="" && Seen(m.id))
        {
         m_dropped++;
         return(false);
        }
      if(m.id!="")
         Remember(m.id);
      int n=ArraySize(out);
      ArrayResize(out,n+1,16);
      out[n]=m;
      return(true);
     }
   //--- Every envelope of array node `list` (a poll answer); returns how many were new.
   int               Route(const CJsonDoc &doc,const int list,SServerMessage &out[])
     {
      int added=0;
      for(int c=doc.First(list);c>=0;c=doc.Next(c))
         if(RouteOne(doc,c,out))
            added++;
      return(added);
     }
   //--- Call after a message was fully handled (effects persisted).
   void              MarkProcessed(const SServerMessage &m)
     {
      if(m.seq>m_ack_seq)
         m_ack_seq=m.seq;
     }
  };

//--- Routed server messages not yet handled, in order. Handling one may have to
//--- wait (a trade retry deferred to a later tick): it stays first and holds
//--- the rest (so ack_seq stays below it) until WaitUntil's time has come.
class CMessageBacklog
  {
private:
   SServerMessage    m_items[];       // in arrival (seq) order
   long              m_ready_ms;      // the first item waits until then

public:
                     CMessageBacklog(void) : m_ready_ms(0) {}
   void              Clear(void) { ArrayResize(m_items,0); m_ready_ms=0; }
   int               Count(void) const { return(ArraySize(m_items)); }
   //--- append `msgs`, except ids already waiting (re-delivered meanwhile); how many were added
   int               Add(const SServerMessage &msgs[])
     {
      int added=0;
      for(int i=0;i<ArraySize(msgs);i++)
        {
         bool known=false;
         for(int k=0;k<ArraySize(m_items) && !known;k++)
            known=(msgs[i].id!="" && m_items[k].id==msgs[i].id);
         if(known)
            continue;
         int n=ArraySize(m_items);
         ArrayResize(m_items,n+1,16);
         m_items[n]=msgs[i];
         added++;
        }
      return(added);
     }
   //--- a first item exists and its time has come
   bool              Ready(const long now_ms) const { return(ArraySize(m_items)>0 && now_ms>=m_ready_ms); }
   void              First(SServerMessage &m) const { m=m_items[0]; }
   //--- the first item was handled
   void              RemoveFirst(void)
     {
      int n=ArraySize(m_items);
      if(n==0)
         return;
      for(int i=1;i<n;i++)
         m_items[i-1]=m_items[i];
      ArrayResize(m_items,n-1);
      m_ready_ms=0;
     }
   //--- the first item must be handled again at `ready_ms`, not before
   void              WaitUntil(const long ready_ms) { m_ready_ms=ready_ms; }
  };

#endif
