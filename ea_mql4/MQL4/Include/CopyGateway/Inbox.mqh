//+------------------------------------------------------------------+
//| Inbox.mqh -- routing of server->EA envelopes: decode, drop what  |
//| was already processed (seq <= ack_seq) or already seen (id), and |
//| track the highest processed seq for ack_seq. Pure code.          |
//+------------------------------------------------------------------+
#property strict

#ifndef COPYGATEWAY_INBOX_MQH
#define COPYGATEWAY_INBOX_MQH

#include <CopyGateway/Protocol.mqh>

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

#endif
